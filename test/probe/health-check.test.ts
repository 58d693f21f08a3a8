// Command checks: exit 0 is healthy, anything else fails with the exit code and the last line printed; a check that
// hangs is killed with its whole group at the timeout; it runs in the instance's folder with its environment.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'
import { probeStatusLine, runCheck } from '../../lib/probe/health-check.ts'
import { shellArgv } from '../../lib/config/plan.ts'
import { freePorts, pidGone, waitFor } from '../helpers.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-health-check-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
const target = { host: '127.0.0.1', cwd: dir, env: { ...process.env, PORT: '1234' } }
const command = (argv: string[]) => ({ kind: 'command' as const, argv, command: argv.join(' ') })

test('a list runs without a shell; exit 0 is healthy', async () => {
  assert.deepEqual(await runCheck(command(['true']), target, 2000), { ok: true, detail: 'check exit 0' })
  // Without a shell, "$PORT" is passed as it is.
  const literal = await runCheck(command(['test', '$PORT', '=', '1234']), target, 2000)
  assert.deepEqual(literal, { ok: false, detail: 'check exit 1' })
})

test('a string goes through /bin/sh, in the instance folder and environment; a failure says its last line', async () => {
  const seen = await runCheck(command(shellArgv(`test "$PORT" = 1234 && test "$(pwd)" = ${dir}`)), target, 2000)
  assert.deepEqual(seen, { ok: true, detail: 'check exit 0' })
  const failed = await runCheck(command(shellArgv('echo starting; echo queue unreachable >&2; exit 3')), target, 2000)
  assert.deepEqual(failed, { ok: false, detail: 'check exit 3: queue unreachable' })
})

test('a check that hangs fails at the timeout, and what it started is killed with it', async () => {
  const pidFile = path.join(dir, 'sleeper.pid')
  const hung = await runCheck(command(shellArgv(`sleep 30 & echo $! > ${pidFile}; wait`)), target, 300)
  assert.deepEqual(hung, { ok: false, detail: 'check gave no answer within 0.3 s' })
  const sleeper = Number(fs.readFileSync(pidFile, 'utf8'))
  await waitFor(() => pidGone(sleeper), 5000, `the check's sleep (pid ${sleeper}) to be killed`)
})

test('a check that cannot run fails saying why', async () => {
  const missing = await runCheck(command([path.join(dir, 'no-such-check')]), target, 2000)
  assert.equal(missing.ok, false)
  assert.match(missing.detail, /^check could not run: spawn .*no-such-check ENOENT$/)
})

// A TCP server that answers every connection as `answer` says (raw bytes, in pieces, or not at all).
async function rawServer(answer: (socket: net.Socket) => void): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('data', () => answer(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

test('HTTP checks read the status line only: 2xx/3xx healthy, the rest not, whatever pieces it comes in', async () => {
  const cases: [string[], { ok: boolean; detail: string }][] = [
    [['HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n'], { ok: true, detail: 'HTTP 200' }],
    [['HTTP/1.1 302 Found\r\n\r\n'], { ok: true, detail: 'HTTP 302' }],
    [['HTTP/1.0 500 Internal Server Error\r\n\r\nsick'], { ok: false, detail: 'HTTP 500' }],
    [['HT', 'TP/1.1 2', '04 No Content\r', '\n\r\n'], { ok: true, detail: 'HTTP 204' }],
    [['SSH-2.0-OpenSSH\r\n'], { ok: false, detail: 'not an HTTP answer: "SSH-2.0-OpenSSH\\r\\n"' }],
    [[], { ok: false, detail: 'the connection closed without an HTTP answer' }],
  ]
  for (const [pieces, want] of cases) {
    const server = await rawServer(async (socket) => {
      for (const piece of pieces) {
        socket.write(piece)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      socket.end()
    })
    try {
      assert.deepEqual(await probeStatusLine('127.0.0.1', server.port, '/health', 2000), want, JSON.stringify(pieces))
    } finally {
      server.close()
    }
  }
})

test('HTTP checks: nothing listening, and a server that never answers', async () => {
  const port = await freePorts(1)
  assert.deepEqual(await probeStatusLine('127.0.0.1', port, '/health', 2000), { ok: false, detail: 'ECONNREFUSED' })
  const silent = await rawServer(() => {})
  try {
    assert.deepEqual(await probeStatusLine('127.0.0.1', silent.port, '/health', 200), {
      ok: false,
      detail: 'no HTTP answer within 200 ms',
    })
  } finally {
    silent.close()
  }
})

test('an HTTP check asks for its path with a Host header and Connection: close', async () => {
  let request = ''
  const capture = net.createServer((socket) =>
    socket.once('data', (d) => {
      request = d.toString()
      socket.end('HTTP/1.1 200 OK\r\n\r\n')
    }),
  )
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve))
  try {
    const port = (capture.address() as net.AddressInfo).port
    assert.deepEqual(await probeStatusLine('127.0.0.1', port, '/ready?deep=1', 2000), { ok: true, detail: 'HTTP 200' })
    assert.equal(request, `GET /ready?deep=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
  } finally {
    capture.close()
  }
})
