import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { accepting, busyPorts, canBind, describeBusy, probeTcp } from '../../lib/os/ports.ts'
import { hasProcfs } from '../../lib/os/procfs.ts'
import { probeHttp } from '../../lib/probe/readiness.ts'
import { freePorts, waitFor } from '../helpers.ts'

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.on('error', () => {}))
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

// TIME_WAIT entries of /proc/net/tcp whose local or remote end is this port.
function timeWaits(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length > 3 && c[3] === '06' && (c[1].endsWith(hex) || c[2].endsWith(hex))).length
}

test('a listening port is busy and named with its owner; a free one is not', async (t) => {
  const port = await freePorts(2)
  const server = await listen(port)
  t.after(() => server.close())
  assert.equal(await canBind(port), false)
  assert.equal(await canBind(port + 1), true)
  const busy = await busyPorts([
    { port, host: '127.0.0.1' },
    { port: port + 1, host: '127.0.0.1' },
  ])
  assert.deepEqual(
    busy.map((b) => b.port),
    [port],
  )
  if (hasProcfs) assert.equal(busy[0].pid, process.pid)
  assert.match(describeBusy(busy[0]), new RegExp(`^port ${port} is in use( by pid ${process.pid} \\(.+\\))?$`))
  assert.deepEqual(
    await accepting([
      { port, host: '127.0.0.1' },
      { port: port + 1, host: '0.0.0.0' },
    ]),
    [port],
  )
})

test(
  'a port held only by an outgoing connection in TIME_WAIT is busy too, and says so',
  { skip: !hasProcfs && 'no /proc on this system' },
  async (t) => {
    const target = await freePorts(1)
    const server = await listen(target)
    t.after(() => server.close())
    // A client that closes first leaves its ephemeral port in TIME_WAIT; the kernel picks that port,
    // as it does for any outgoing connection (an explicit bind would set SO_REUSEADDR and not block).
    const local = await new Promise<number>((resolve, reject) => {
      const client = net.connect({ port: target, host: '127.0.0.1' }, () => {
        const port = client.localPort!
        client.end()
        client.once('close', () => resolve(port))
      })
      client.once('error', reject)
    })
    await waitFor(() => timeWaits(local) > 0, 5000, `a TIME_WAIT on port ${local}`)
    const [busy] = await busyPorts([{ port: local, host: '127.0.0.1' }])
    assert.ok(busy, `port ${local} should count as busy`)
    assert.match(
      describeBusy(busy),
      new RegExp(`^port ${local} is held by a TCP connection in TIME_WAIT to 127\\.0\\.0\\.1:${target}; `),
    )
  },
)

test('a TCP probe says whether something accepts, and a plain net server without error handlers survives it', async (t) => {
  const port = await freePorts(2)
  const server = net.createServer().listen(port, '127.0.0.1')
  t.after(() => server.close())
  await waitFor(() => server.listening, 5000, 'the server to listen')
  for (let i = 0; i < 5; i++) assert.deepEqual(await probeTcp('127.0.0.1', port, 1000), { ok: true, detail: 'tcp ok' })
  assert.deepEqual(await probeTcp('127.0.0.1', port + 1, 1000), { ok: false, detail: 'ECONNREFUSED' })
  assert.equal(server.listening, true)
})

test(
  'probes of 127.0.0.1 come from 127.0.0.2, so a probe can never connect to itself',
  { skip: process.platform !== 'linux' && 'only Linux routes all of 127/8 to loopback' },
  async (t) => {
    const port = await freePorts(2)
    const seen: string[] = []
    const tcp = net.createServer((socket) => {
      seen.push(`tcp ${socket.remoteAddress}`)
      socket.on('error', () => {})
    })
    const web = http.createServer((req, res) => {
      seen.push(`http ${req.socket.remoteAddress}`)
      res.end('ok')
    })
    await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve))
    await new Promise<void>((resolve) => web.listen(port + 1, '127.0.0.1', resolve))
    t.after(() => {
      tcp.close()
      web.close()
    })
    assert.equal((await probeTcp('127.0.0.1', port, 1000)).ok, true)
    assert.equal((await probeHttp('0.0.0.0', port + 1, '/health', 1000)).ok, true)
    await waitFor(() => seen.length === 2, 5000, 'both probes to arrive')
    assert.deepEqual(seen.sort(), ['http 127.0.0.2', 'tcp 127.0.0.2'])
  },
)
