// on_failure: stop-all: a server that fails for good (restart: no, exit non-zero) stops the whole stack.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {
  fixtureServer,
  freePorts,
  httpGet,
  listening,
  pidGone,
  startOk,
  useHome,
  waitFor,
  type TestHome,
} from '../helpers.ts'

// Behind nginx: steady (2 instances), a portless worker and `fragile`, which exits when asked to.
function stopAllStack(home: TestHome, base: number): string {
  return home.writeConfig({
    proxy: { type: 'nginx', port: base + 3 },
    on_failure: 'stop-all',
    // Runs after a stop-all too, as a command of its own: not tagged as a process of the stack.
    after_stop: ['echo "run=${BACKEND_MANAGER_RUN:-none}" > after-stop.txt'],
    servers: [
      fixtureServer('steady', 'http-server.mjs', base, { instances: 2 }),
      fixtureServer('fragile', 'exits-on-request.mjs', base + 2, { restart: 'no', behind_proxy: false }),
      fixtureServer('worker', 'exits-with.mjs', undefined, { env: { EXIT_AFTER_MS: '3600000' } }),
    ],
  })
}

const STOP_ALL_LINE =
  /^supervisor +>> fragile-0 failed for good \(exited with code 7\); stopping the whole stack \(on_failure: stop-all\)$/m

async function nothingLeft(home: TestHome, base: number): Promise<void> {
  for (let port = base; port <= base + 3; port++)
    await waitFor(async () => !(await listening(port)), 15_000, `port ${port} to be released`)
  await waitFor(() => home.stackProcesses().supervisors.length === 0, 15_000, 'the supervisor to exit')
  assert.deepEqual(home.stackProcesses(), { supervisors: [], tagged: [] })
}

test('stop-all: a server with restart no that exits non-zero stops every process and frees every port', async (t) => {
  const home = useHome(t)
  const base = await freePorts(4)
  await startOk(home, stopAllStack(home, base))
  const pids = home.state()!.processes.map((p) => ({ pid: p.pid, startTime: p.startTime }))
  assert.equal(pids.length, 5, 'steady-0, steady-1, fragile-0, worker-0 and nginx')
  assert.equal((await httpGet(`http://127.0.0.1:${base + 3}/`)).status, 200)

  await httpGet(`http://127.0.0.1:${base + 2}/exit/7`)
  await waitFor(() => !fs.existsSync(home.statePath), 30_000, 'the stack to stop itself and remove its state')
  await nothingLeft(home, base)
  for (const p of pids) assert.ok(pidGone(p.pid, p.startTime), `pid ${p.pid} is gone`)
  assert.match(home.readLog('backend-unified.log'), STOP_ALL_LINE)
  const after = path.join(home.root, 'after-stop.txt')
  await waitFor(() => fs.existsSync(after) && fs.readFileSync(after, 'utf8'), 10_000, 'after_stop to run')
  assert.equal(fs.readFileSync(after, 'utf8'), 'run=none\n')
  // status says why nothing runs: exit 1, as after a failed start, not 3 (never started).
  const status = await home.cli(['status'])
  assert.equal(status.code, 1, status.stdout)
  assert.match(
    status.stdout,
    /^the stack stopped itself \(at [\d:]+, config .*\): fragile-0 failed for good \(exited with code 7\), and on_failure is stop-all$/m,
  )
})

test('stop-all: a --foreground run stops everything and exits non-zero, saying why', async (t) => {
  const home = useHome(t)
  const base = await freePorts(4)
  const run = home.spawnCli(['start', stopAllStack(home, base), '--foreground'])
  await waitFor(() => /Ctrl\+C stops everything/.test(run.output().stdout), 60_000, 'the foreground run to be ready')
  await httpGet(`http://127.0.0.1:${base + 2}/exit/7`)
  const r = await run.done
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, STOP_ALL_LINE)
  assert.match(r.stderr, /Error: fragile-0 failed for good \(exited with code 7\)/)
  assert.equal(fs.existsSync(home.statePath), false)
  await nothingLeft(home, base)
})

test('keep-running (the default): the same failure leaves the rest running', async (t) => {
  const home = useHome(t)
  const base = await freePorts(4)
  const config = fs.readFileSync(stopAllStack(home, base), 'utf8').replace('on_failure: "stop-all"\n', '')
  await startOk(home, home.writeConfig(config, 'keep.yaml'))
  await httpGet(`http://127.0.0.1:${base + 2}/exit/7`)
  await waitFor(() => home.record('fragile-0').state === 'crashed', 30_000, 'fragile-0 to be marked crashed')
  assert.equal((await httpGet(`http://127.0.0.1:${base + 3}/`)).status, 200)
  assert.ok(fs.existsSync(home.statePath))
  assert.doesNotMatch(home.readLog('backend-unified.log'), /stop-all/)
})

test('stop-all: a task that fails during the start still fails it naming the task and its exit code', async (t) => {
  const home = useHome(t)
  const config = home.writeConfig({
    on_failure: 'stop-all',
    servers: [{ name: 'check', kind: 'task', command: 'echo "engine missing" >&2; exit 5' }],
  })
  const r = await home.cli(['start', config])
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stderr, /task check-0 failed: exited with code 5\n.*\n {2}\| engine missing/)
  assert.equal(fs.existsSync(home.statePath), false)
})
