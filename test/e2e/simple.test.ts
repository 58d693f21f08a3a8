// Simple mode through the real CLI (and its Make targets): N identical workers on consecutive
// ports, no config file, with no proxy, nginx, or Envoy in front.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { findEnvoy } from '../../lib/proxy/envoy/binary.ts'
import { decodeMessage, int, unaryCall } from '../../lib/probe/grpc.ts'
import { resolveHome } from '../../lib/core/home.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import { freePorts, httpGet, listening, repoRoot, TestHome, waitFor, type CliResult } from '../helpers.ts'

const probeHome = resolveHome({}, os.tmpdir(), 'bm-no-such-home')
const nginx = findNginx(probeHome, process.env)
const envoy = findEnvoy(probeHome, process.env)

// A temporary home whose pool is stopped (and anything left killed) after the test, pass or fail.
function usePool(t: { after(fn: () => Promise<void>): void }, prefix: string): TestHome {
  const home = new TestHome(prefix)
  t.after(async () => {
    await home.cli(['simple', 'stop'], { timeoutMs: 20_000 })
    await home.cleanup()
  })
  return home
}

const poolState = (home: TestHome) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(home.root, 'simple', 'run', 'state.json'), 'utf8')) as {
      processes: { id: string; port?: number; pid: number }[]
    }
  } catch {
    return undefined
  }
}

const ok = (r: CliResult, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout}${r.stderr}`)
const json = async (port: number, urlPath = '/') => (await httpGet(`http://127.0.0.1:${port}${urlPath}`)).json()

test('start 4 workers, status lists them, restart with 2 leaves exactly 2, stop frees every port', async (t) => {
  const home = usePool(t, 'bm-simple-')
  const base = await freePorts(4)
  const started = await home.cli(['simple', 'start', '--workers', '4', '--base-port', String(base)])
  ok(started, 'simple start')
  assert.match(started.stdout, new RegExp(`started 4 workers on ports ${base}-${base + 3} in \\d+ ms`))
  for (let i = 0; i < 4; i++) {
    const reply = await json(base + i, '/hello')
    assert.deepEqual(
      [reply.server, reply.instance, reply.port],
      ['worker', i, base + i],
      `worker-${i} answers on ${base + i}`,
    )
  }
  const status = await home.cli(['simple', 'status'])
  ok(status, 'simple status')
  for (let i = 0; i < 4; i++)
    assert.match(status.stdout, new RegExp(`^worker-${i} +\\d+ +${base + i} +running +ok`, 'm'))
  const asJson = JSON.parse((await home.cli(['simple', 'status', '--json'])).stdout)
  assert.deepEqual(
    asJson.processes.filter((p: { kind: string }) => p.kind === 'server').map((p: { id: string }) => p.id),
    ['worker-0', 'worker-1', 'worker-2', 'worker-3'],
  )
  assert.equal(home.state(), undefined, 'the pool keeps its own state, apart from a config-file stack')

  const restarted = await home.cli(['simple', 'restart', '--workers', '2'])
  ok(restarted, 'simple restart')
  // A running pool is scaled in place: worker-0 and worker-1 keep running.
  assert.match(restarted.stdout, new RegExp(`scaled the pool from 4 to 2 workers on ports ${base}-${base + 1}`))
  assert.deepEqual(
    poolState(home)?.processes.map((p) => [p.id, p.port]),
    [
      ['worker-0', base],
      ['worker-1', base + 1],
    ],
  )
  assert.deepEqual(
    [await listening(base), await listening(base + 1), await listening(base + 2), await listening(base + 3)],
    [true, true, false, false],
  )
  assert.equal((await json(base + 1)).instance, 1, 'the same (demo) command runs again')

  const logs = await home.cli(['simple', 'logs', '-n', '200'])
  ok(logs, 'simple logs')
  assert.match(logs.stdout, /^worker-0 +[>!]> worker-0 listening on http:\/\/127\.0\.0\.1:/m)
  assert.match(logs.stdout, /^worker-3 +[>!]> worker-3 listening on/m, 'lines of the first pool are kept')

  const stopped = await home.cli(['simple', 'stop'])
  ok(stopped, 'simple stop')
  assert.match(stopped.stdout, /stopped 2 processes in \d+ ms; all ports released/)
  for (let p = base; p < base + 4; p++) assert.equal(await listening(p), false, `port ${p} is free`)
  assert.equal(poolState(home), undefined, 'no pool state left')
  assert.deepEqual(home.processes(), [], 'no process left')
  assert.equal((await home.cli(['simple', 'status'])).code, 3, 'status: not running')
})

test('COMMAND gets {port} as a word of its own, inside a shell line, and PORT in its environment', async (t) => {
  const home = usePool(t, 'bm-simple-cmd-')
  const base = await freePorts(2)
  const server = 'test/fixtures/port-arg-server.mjs'
  ok(
    await home.cli([
      'simple',
      'start',
      '--workers',
      '2',
      '--base-port',
      String(base),
      '--',
      'node',
      server,
      '--port',
      '{port}',
    ]),
    'start with an argv command',
  )
  for (let i = 0; i < 2; i++)
    assert.deepEqual(await json(base + i), {
      argvPort: base + i,
      envPort: String(base + i),
      instance: String(i),
      name: 'worker',
    })
  ok(await home.cli(['simple', 'restart', '--workers', '1']), 'restart keeps the command')
  assert.equal((await json(base)).argvPort, base)
  ok(await home.cli(['simple', 'stop']), 'stop')

  ok(
    await home.cli([
      'simple',
      'start',
      '--workers',
      '2',
      '--base-port',
      String(base),
      '--',
      `node ${server} --port {port}`,
    ]),
    'start with a shell line',
  )
  for (let i = 0; i < 2; i++) assert.equal((await json(base + i)).argvPort, base + i)
  const pids = poolState(home)!.processes.map((p) => p.pid)
  for (const pid of pids)
    assert.match(
      fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
      /^node\0/,
      'a plain shell line is exec-ed: the recorded pid is the server',
    )
})

test('with --proxy nginx the front port balances round-robin across every worker; restart keeps the proxy', async (t) => {
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const home = usePool(t, 'bm-simple-nginx-')
  const base = await freePorts(4)
  const front = base + 3
  const started = await home.cli([
    'simple',
    'start',
    '--workers',
    '3',
    '--base-port',
    String(base),
    '--proxy',
    'nginx',
    '--port',
    String(front),
  ])
  ok(started, 'simple start --proxy nginx')
  assert.match(
    started.stdout,
    new RegExp(`started 3 workers on ports ${base}-${base + 2}; nginx on http://127\\.0\\.0\\.1:${front} in`),
  )
  const order: number[] = []
  for (let i = 0; i < 9; i++) order.push((await json(front, `/r${i}`)).instance)
  assert.deepEqual(new Set(order), new Set([0, 1, 2]), `every worker answered: ${order.join(',')}`)
  for (let i = 1; i < order.length; i++) assert.notEqual(order[i], order[i - 1], `in turn: ${order.join(',')}`)

  ok(await home.cli(['simple', 'restart', '--workers', '2']), 'simple restart')
  const after: number[] = []
  for (let i = 0; i < 4; i++) after.push((await json(front)).instance)
  assert.deepEqual(new Set(after), new Set([0, 1]), `nginx balances the 2 remaining workers: ${after.join(',')}`)
  ok(await home.cli(['simple', 'stop']), 'simple stop')
  for (let p = base; p <= front; p++) assert.equal(await listening(p), false, `port ${p} is free`)
})

test("a gRPC pool behind nginx (the seed's full mode): calls on the front port reach every worker", async (t) => {
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const home = usePool(t, 'bm-simple-grpc-')
  const base = await freePorts(4)
  const front = base + 3
  const started = await home.cli([
    'simple',
    'start',
    '--workers',
    '3',
    '--base-port',
    String(base),
    '--proxy',
    'nginx',
    '--protocol',
    'grpc',
    '--port',
    String(front),
  ])
  ok(started, 'simple start --protocol grpc')
  assert.equal(started.stdout.match(/\(grpc SERVING\)/g)?.length, 3, started.stdout)
  assert.match(started.stdout, new RegExp(`nginx on 127\\.0\\.0\\.1:${front} \\(gRPC\\)`))
  const ports = new Set<number>()
  for (let i = 0; i < 6; i++) {
    const reply = await unaryCall(`127.0.0.1:${front}`, '/demo.Echo/WhoAmI', Buffer.alloc(0), 5000)
    assert.ok(reply.ok, JSON.stringify(reply))
    if (reply.ok) ports.add(int(decodeMessage(reply.value), 4))
  }
  assert.deepEqual(ports, new Set([base, base + 1, base + 2]))
  const health = await home.cli(['simple', 'health'])
  ok(health, 'simple health')
  assert.match(health.stdout, new RegExp(`^worker +proxy +ok +grpc SERVING +grpc://127\\.0\\.0\\.1:${front}$`, 'm'))
  assert.equal(health.stdout.match(/^worker-\d +direct +ok +grpc SERVING/gm)?.length, 3, health.stdout)
})

test('--proxy envoy: runs where envoy exists; elsewhere a clear "envoy not found", exit 1, nothing started', async (t) => {
  // Simple mode puts Envoy's admin API on its default port.
  if (envoy && (await listening(9901))) return t.skip('port 9901 (the Envoy admin default) is taken by something else')
  const home = usePool(t, 'bm-simple-envoy-')
  const base = await freePorts(4)
  const front = base + 3
  const result = await home.cli([
    'simple',
    'start',
    '--workers',
    '3',
    '--base-port',
    String(base),
    '--proxy',
    'envoy',
    '--port',
    String(front),
  ])
  if (!envoy) {
    t.diagnostic('envoy not found on PATH: only the missing-binary path is checked here')
    assert.equal(result.code, 1, result.stdout + result.stderr)
    assert.match(result.stderr, /^Error: envoy not found \(looked at /m)
    assert.equal(poolState(home), undefined, 'no pool state')
    for (let p = base; p <= front; p++) assert.equal(await listening(p), false, `port ${p} stays free`)
    assert.deepEqual(home.processes(), [])
    return
  }
  ok(result, 'simple start --proxy envoy')
  const order: number[] = []
  for (let i = 0; i < 6; i++) order.push((await json(front)).instance)
  assert.deepEqual(new Set(order), new Set([0, 1, 2]), `every worker answered through Envoy: ${order.join(',')}`)
  const health = await waitFor(
    async () => {
      const r = await home.cli(['simple', 'health'])
      return r.stdout.match(/ envoy +ok +envoy: healthy/g)?.length === 3 ? r : undefined
    },
    15_000,
    'Envoy to see all 3 workers healthy',
  )
  assert.ok(health)
})

test('bad flags exit 2 with a message naming the flag; nothing is started', async (t) => {
  const home = usePool(t, 'bm-simple-flags-')
  const base = await freePorts(1)
  const table: [string[], RegExp][] = [
    [['--workers', '0', '--base-port', String(base)], /--workers: expected a whole number from 1 to 256, got "0"/],
    [['--workers', 'many', '--base-port', String(base)], /--workers: expected a whole number/],
    [['--base-port', String(base)], /--workers is required/],
    [['--workers', '2'], /--base-port is required/],
    [['--workers', '2', '--base-port', '0'], /--base-port: expected a whole number from 1 to 65535, got "0"/],
    [['--workers', '2', '--base-port', '70000'], /--base-port: expected a whole number from 1 to 65535, got "70000"/],
    [['--workers', '3', '--base-port', '65534'], /--workers 3 from --base-port 65534 runs past port 65535/],
    [
      ['--workers', '4', '--base-port', String(base), '--proxy', 'nginx', '--port', String(base + 2)],
      /--port \d+ overlaps the worker ports/,
    ],
    [
      ['--workers', '2', '--base-port', '9900', '--proxy', 'envoy', '--port', '9000'],
      /--proxy envoy: its admin API port 9901 is among the worker ports 9900-9901/,
    ],
    [
      ['--workers', '2', '--base-port', String(base), '--proxy', 'haproxy'],
      /--proxy: expected one of none, nginx, envoy, got "haproxy"/,
    ],
    [
      ['--workers', '2', '--base-port', String(base), '--protocol', 'thrift'],
      /--protocol: expected one of http, grpc, got "thrift"/,
    ],
    [['--workers', '2', '--base-port', String(base), '--colour'], /simple start: unknown flag '--colour'/],
  ]
  for (const [flags, message] of table) {
    const result = await home.cli(['simple', 'start', ...flags])
    assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stdout}${result.stderr}`)
    assert.match(result.stderr, message, flags.join(' '))
  }
  assert.equal((await home.cli(['simple', 'restart', '--workers', '2'])).code, 2, 'restart with no pool to restart')
  assert.equal((await home.cli(['simple', 'launch'])).code, 2, 'unknown subcommand')
  assert.equal(poolState(home), undefined)
  assert.deepEqual(home.processes(), [])
})

// The Make targets as a user runs them; -o keeps make from reinstalling what is already there, and
// a clean MAKEFLAGS keeps a surrounding `make test` (its jobserver) out of this one.
function make(home: TestHome, args: string[]): Promise<CliResult> {
  const { MAKEFLAGS, MFLAGS, MAKELEVEL, ...env } = process.env
  return new Promise((resolve) => {
    execFile(
      'make',
      ['--no-print-directory', '-o', 'install', '-o', 'deps', ...args],
      { cwd: repoRoot, env: { ...env, BACKEND_MANAGER_HOME: home.root, NO_COLOR: '1' }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    )
  })
}

test('Make targets: simple-start workers=N base_port=P, simple-status, simple-stop', async (t) => {
  const home = usePool(t, 'bm-simple-make-')
  const base = await freePorts(2)
  const started = await make(home, ['simple-start', 'workers=2', `base_port=${base}`])
  ok(started, 'make simple-start')
  assert.match(started.stdout, new RegExp(`started 2 workers on ports ${base}-${base + 1}`))
  const status = await make(home, ['simple-status'])
  ok(status, 'make simple-status')
  assert.match(status.stdout, /^worker-1 +\d+ +\d+ +running +ok/m)
  ok(await make(home, ['simple-stop']), 'make simple-stop')
  assert.deepEqual([await listening(base), await listening(base + 1)], [false, false])
})
