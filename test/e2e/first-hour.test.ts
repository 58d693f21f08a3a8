// End-to-end checks of what a new user meets first: what start runs, says and shows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveHome } from '../../lib/core/home.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import {
  environValue,
  freePorts,
  hasCommand,
  httpGet,
  listening,
  pidGone,
  useHome,
  waitFor,
  type ServerYaml,
} from '../helpers.ts'

const httpServer = (name: string, port: number, extra: Partial<ServerYaml> = {}): ServerYaml => ({
  name,
  command: 'node test/fixtures/http-server.mjs',
  port,
  health: '/health',
  stop_timeout: 0.5,
  ready_timeout: 10,
  ...extra,
})
const worker = (name: string, extra: Partial<ServerYaml> = {}): ServerYaml => ({
  name,
  command: ['sleep', '600'],
  health: 'none',
  stop_timeout: 0.5,
  ...extra,
})

test('start --only with no selected server behind the proxy starts no proxy', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: base + 1 },
    servers: [httpServer('core', base), worker('worker')],
  })
  const r = await home.cli(['start', config, '--only', 'worker'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.doesNotMatch(r.stdout, /nginx/)
  assert.deepEqual(
    home.state()!.processes.map((p) => p.id),
    ['worker-0'],
  )
  assert.equal(await listening(base + 1), false, 'something listens on the proxy port')
  const stopped = await home.cli(['stop'])
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr)
})

test('start and stop count the proxy too, and say "1 process" and "last line" in the singular', async (t) => {
  const home = useHome(t)
  const check = await home.cli(['check-nginx'])
  if (check.code !== 0) return t.skip('no usable nginx')
  const base = await freePorts(2)
  const proxied = home.writeConfig(
    { proxy: { type: 'nginx', host: '127.0.0.1', port: base + 1 }, servers: [httpServer('core', base)] },
    'proxied.yaml',
  )
  const started = await home.cli(['start', proxied])
  assert.equal(started.code, 0, started.stdout + started.stderr)
  assert.equal(started.stdout.split('\n').filter((l) => l.startsWith('ready')).length, 2)
  assert.match(started.stdout, /^all 2 processes ready in \d+ ms; nginx on /m)
  assert.match((await home.cli(['stop'])).stdout, /^stopped 2 processes in \d+ ms/m)

  const single = home.writeConfig({ servers: [worker('worker')] }, 'single.yaml')
  const one = await home.cli(['start', single])
  assert.equal(one.code, 0, one.stdout + one.stderr)
  assert.match(one.stdout, /^1 process ready in \d+ ms \(supervisor pid \d+\)$/m)
  assert.match((await home.cli(['stop'])).stdout, /^stopped 1 process in \d+ ms/m)

  const never = home.writeConfig(
    {
      servers: [
        {
          name: 'never',
          command: 'node test/fixtures/never-ready.mjs',
          port: base,
          health: 'tcp',
          ready_timeout: 1.5,
          stop_timeout: 0.5,
        },
      ],
    },
    'never.yaml',
  )
  const failed = await home.cli(['start', never])
  assert.equal(failed.code, 1, failed.stdout + failed.stderr)
  assert.match(failed.stderr, /last line of .*never-0\.log:\n\s+\| never-ready: warming up forever/)
})

test('a second "simple start" refuses and leaves the running pool alone', async (t) => {
  const home = useHome(t)
  t.after(async () => void (await home.cli(['simple', 'stop'], { timeoutMs: 20_000 })))
  const base = await freePorts(2)
  const args = [
    'simple',
    'start',
    '--workers',
    '2',
    '--base-port',
    String(base),
    '--',
    'node',
    'test/fixtures/http-server.mjs',
  ]
  const first = await home.cli(args)
  assert.equal(first.code, 0, first.stdout + first.stderr)
  const pids = async () =>
    Promise.all([0, 1].map(async (i) => (await httpGet(`http://127.0.0.1:${base + i}/`)).json().pid as number))
  const before = await pids()
  const second = await home.cli(args)
  assert.equal(second.code, 1, second.stdout + second.stderr)
  assert.match(second.stderr, /a pool is already running .*; use "simple restart" or "simple stop" first/)
  assert.doesNotMatch(second.stdout, /stopped/)
  assert.deepEqual(await pids(), before, 'the running workers were restarted')
  const stopped = await home.cli(['simple', 'stop'])
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr)
})

test('status lists processes in start order, proxy last, also after restart --only', async (t) => {
  const home = useHome(t)
  const check = await home.cli(['check-nginx'])
  const proxied = check.code === 0
  const base = await freePorts(3)
  const config = home.writeConfig({
    ...(proxied ? { proxy: { type: 'nginx', host: '127.0.0.1', port: base + 2 } } : {}),
    servers: [httpServer('core', base), httpServer('broker', base + 1, { modules: ['broker'] })],
  })
  const started = await home.cli(['start', config])
  assert.equal(started.code, 0, started.stdout + started.stderr)
  const restarted = await home.cli(['restart', config, '--only', 'core'])
  assert.equal(restarted.code, 0, restarted.stdout + restarted.stderr)
  const want = ['supervisor', 'core-0', 'broker-0', ...(proxied ? ['nginx'] : [])]
  const rows = (await home.cli(['status'])).stdout
    .split('\n')
    .slice(2)
    .filter(Boolean)
    .map((l) => l.split(/\s+/)[0])
  assert.deepEqual(rows.slice(0, want.length), want)
  const json = JSON.parse((await home.cli(['status', '--json'])).stdout) as { processes: { id: string }[] }
  assert.deepEqual(
    json.processes.map((p) => p.id),
    want,
  )
})

test('install-nginx with nginx already in place says so in one line, without the install chatter', async (t) => {
  const home = useHome(t)
  const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  fs.mkdirSync(path.join(home.root, 'bin'), { recursive: true })
  fs.symlinkSync(fs.realpathSync(nginx.path), path.join(home.root, 'bin', 'nginx'))
  const r = await home.cli(['install-nginx'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /^nginx \d+\.\d+\.\d+ already installed: \S+\n$/)
})

test("a Python server's output reaches its log while it runs (PYTHONUNBUFFERED), unless the config sets it", async (t) => {
  if (!hasCommand('python3')) return t.skip('no python3')
  const home = useHome(t)
  const config = home.writeConfig({
    servers: [
      worker('py', { command: ['python3', 'test/fixtures/buffered-printer.py'] }),
      worker('chosen', { command: ['python3', 'test/fixtures/buffered-printer.py'], env: { PYTHONUNBUFFERED: '' } }),
    ],
  })
  // As in a plain shell: nothing in the inherited environment turns buffering off.
  const r = await home.cli(['start', config], { env: { PYTHONUNBUFFERED: undefined } })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  await waitFor(
    () => home.readLog('py-0.log').includes('buffered-printer: up and waiting'),
    20_000,
    'the line in py-0.log',
  )
  assert.equal(environValue(home.record('py-0').pid, 'PYTHONUNBUFFERED'), '1')
  assert.equal(environValue(home.record('chosen-0').pid, 'PYTHONUNBUFFERED'), '', "the config's own value is kept")
})

test('status shows recent CPU, not the lifetime average, with and without a supervisor', async (t) => {
  const home = useHome(t)
  const config = home.writeConfig({ servers: [worker('burner', { command: 'node test/fixtures/burn-then-idle.mjs' })] })
  const r = await home.cli(['start', config])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  await waitFor(() => home.readLog('burner-0.log').includes('idle now'), 30_000, 'the burner to go idle')
  const cpu = async () => {
    const status = JSON.parse((await home.cli(['status', '--json'])).stdout) as {
      processes: { id: string; cpuPercent: number | null }[]
    }
    return status.processes.find((p) => p.id === 'burner-0')?.cpuPercent
  }
  // A whole second of CPU keeps the lifetime average above 1% for well over a minute.
  await waitFor(async () => ((await cpu()) ?? 100) < 1, 20_000, 'an idle process to show under 1% CPU')
  const supervisor = home.state()!.supervisor
  assert.ok(!pidGone(supervisor.pid, supervisor.startTime), 'the recorded supervisor is not running')
  process.kill(supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(supervisor.pid, supervisor.startTime), 10_000, 'the supervisor to be gone')
  await waitFor(
    async () => ((await cpu()) ?? 100) < 1,
    20_000,
    'an idle process to show under 1% CPU with no supervisor',
  )
})
