// End-to-end start and restart as a user meets them: what --only restarts, which config restart uses,
// a second start, a failed background start, the log lines a failure shows, and progress while waiting.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {
  commandLine,
  fixtureServer,
  freePorts,
  httpGet,
  listening,
  pidAlive,
  pidGone,
  startOk,
  stopOk,
  useHome,
  waitFor,
  type TestHome,
} from '../helpers.ts'

const pidOf = (home: TestHome, id: string) => home.record(id).pid

// No server of this home is left, nor any command or supervisor started against it.
async function assertNothingLeft(home: TestHome): Promise<void> {
  assert.deepEqual(
    home.stackProcesses().tagged.map((pid) => `${pid} ${commandLine(pid)}`),
    [],
    'servers are still alive',
  )
  await waitFor(() => home.processes().length === 0, 5000, 'every process of this home to exit')
}

test('restart --only api restarts api alone; the cache it depends on keeps running', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [
      fixtureServer('cache', 'http-server.mjs', base),
      fixtureServer('api', 'http-server.mjs', base + 1, { depends_on: ['cache'] }),
    ],
  })
  await startOk(home, config)
  const cache = home.record('cache-0')
  const api = home.record('api-0')

  const r = await home.cli(['restart', config, '--only', 'api'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /restarted api in \d+ ms/)
  assert.equal(pidOf(home, 'cache-0'), cache.pid, 'cache was restarted')
  assert.ok(pidAlive(cache.pid, cache.startTime), 'the original cache is gone')
  assert.notEqual(pidOf(home, 'api-0'), api.pid, 'api kept its pid')
  assert.ok(pidGone(api.pid, api.startTime), 'the old api is still alive')
  assert.equal((await httpGet(`http://127.0.0.1:${base}/`)).json().pid, cache.pid)
  assert.equal((await httpGet(`http://127.0.0.1:${base + 1}/`)).json().pid, pidOf(home, 'api-0'))
  assert.equal((await home.statusUntilHealthy()).code, 0, home.readLog('supervisor.log'))
  await stopOk(home)
})

test('restart without CONFIG restarts the running stack from its own config, wherever it is run from', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] }, 'stack.yaml')
  // Started with a path relative to where start ran; restarted from a folder holding no config at all.
  const started = await home.cli(['start', 'stack.yaml'], { cwd: home.root })
  assert.equal(started.code, 0, started.stdout + started.stderr)
  const before = home.record('web-0')
  const elsewhere = path.join(home.root, 'logs')

  const r = await home.cli(['restart'], { cwd: elsewhere })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /restarted 1 process in \d+ ms/)
  assert.ok(pidGone(before.pid, before.startTime), 'the old web-0 is still alive')
  assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).json().pid, pidOf(home, 'web-0'))
  assert.equal(fs.existsSync(path.join(elsewhere, 'dev-config.yaml')), false)
  await stopOk(home)
})

test('start on a running stack: the same config says so and exits 0; another config is refused', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', base)] })
  await startOk(home, config)
  const before = home.state()!

  const again = await home.cli(['start', config])
  assert.equal(again.code, 0, again.stdout + again.stderr)
  assert.match(
    again.stdout,
    new RegExp(`already running with this config \\(.*config\\.yaml, supervisor pid ${before.supervisor.pid}\\)`),
  )
  assert.equal(home.state()!.supervisor.pid, before.supervisor.pid)
  assert.equal(pidOf(home, 'web-0'), before.processes[0].pid)

  const other = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', base + 1)] }, 'other.yaml')
  const refused = await home.cli(['start', other])
  assert.equal(refused.code, 1, refused.stdout + refused.stderr)
  assert.match(refused.stderr, /a stack is already running .*config .*config\.yaml.*use "restart" or "stop" first/)
  assert.equal(await listening(base + 1), false)
  // The same file, edited since the stack started: refused too, saying so.
  home.writeConfig({
    servers: [fixtureServer('web', 'http-server.mjs', base), fixtureServer('more', 'http-server.mjs', base + 1)],
  })
  const edited = await home.cli(['start', config])
  assert.equal(edited.code, 1, edited.stdout + edited.stderr)
  assert.match(edited.stderr, /config .*config\.yaml, run differently: the file changed since/)
  assert.equal(await listening(base + 1), false)
  assert.equal(pidOf(home, 'web-0'), before.processes[0].pid)
  await stopOk(home)
})

test('a failed start --no-wait is shown by status (which server, why, its last lines), exit 1, until the next start', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const failing = home.writeConfig(
    { servers: [fixtureServer('never', 'never-ready.mjs', base, { ready_timeout: 1.5 })] },
    'failing.yaml',
  )
  const r = await home.cli(['start', failing, '--no-wait'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  // The supervisor gives up, stops what it started and exits.
  await waitFor(() => !fs.existsSync(home.statePath), 30_000, 'the background start to fail')
  await assertNothingLeft(home)

  const status = await home.cli(['status'])
  assert.equal(status.code, 1, status.stdout + status.stderr)
  assert.match(status.stdout, /^not running/)
  assert.match(
    status.stdout,
    /the last start failed .*failing\.yaml.*: never-0 did not become ready: not ready within 1\.5 s/,
  )
  assert.match(status.stdout, /\n\s+\| never-ready: warming up forever/)
  const json = JSON.parse((await home.cli(['status', '--json'])).stdout)
  assert.equal(json.lastFailure.id, 'never-0')

  const good = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', base + 1)] })
  await startOk(home, good)
  const healthy = await home.statusUntilHealthy()
  assert.equal(healthy.code, 0, healthy.stdout)
  assert.doesNotMatch(healthy.stdout, /last start failed/)
  await stopOk(home)
  const stopped = await home.cli(['status'])
  assert.equal(stopped.code, 3, stopped.stdout)
  assert.doesNotMatch(stopped.stdout, /last start failed/)
})

test("a failed start shows only this run's log lines, not an earlier run's", async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const run = (message: string) =>
    home.cli([
      'start',
      home.writeConfig({ servers: [fixtureServer('web', 'exits-early.mjs', port, { env: { MESSAGE: message } })] }),
    ])
  const first = await run('first-run')
  assert.equal(first.code, 1, first.stdout + first.stderr)
  assert.match(first.stderr, /web-0 did not become ready: exited with code 1/)
  assert.match(first.stderr, /\| first-run: starting/)

  const second = await run('second-run')
  assert.equal(second.code, 1, second.stdout + second.stderr)
  assert.match(second.stderr, /\| second-run: starting/)
  assert.doesNotMatch(second.stderr, /first-run/)
  // The earlier run's lines are still in the file; they are just not this failure's.
  assert.match(home.readLog('web-0.log'), /first-run: starting/)
  await assertNothingLeft(home)
})

test('while a server is not ready yet, start says every few seconds what the last check saw', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({
    servers: [
      fixtureServer('slow', 'slow-starter.mjs', port, {
        health: '/health',
        ready_timeout: 60,
        env: { READY_AFTER_MS: '4500' },
      }),
    ],
  })
  const r = await startOk(home, config)
  assert.match(r.stdout, new RegExp(`^waiting\\s+slow-0\\s+\\d+ s, :${port} answers HTTP 503`, 'm'))
  assert.match(r.stdout, /^ready\s+slow-0/m)
  await stopOk(home)
})

test('a server that never listens: start says nothing answers, and on the timeout asks whether it listens on $PORT', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('never', 'never-ready.mjs', port, { ready_timeout: 5 })] })
  const r = await home.cli(['start', config])
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(
    r.stdout,
    new RegExp(`^waiting\\s+never-0\\s+\\d+ s, no answer on :${port} yet \\(connection refused\\)`, 'm'),
  )
  assert.match(
    r.stderr,
    new RegExp(`never-0 did not become ready: .*does the command listen on \\$PORT \\(${port}\\)\\?`),
  )
  await assertNothingLeft(home)
})
