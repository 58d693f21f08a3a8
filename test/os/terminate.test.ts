import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { startTimeOf } from '../../lib/os/platform.ts'
import { hasProcfs } from '../../lib/os/procfs.ts'
import type { ProcessRecord } from '../../lib/os/process-record.ts'
import { stopProcesses, stopTargets, stopWaves, type StopTarget } from '../../lib/os/terminate.ts'
import { freePorts, listening, pidAlive, pidGone, waitFor } from '../helpers.ts'

function target(id: string, dependsOn: string[] = [], kind: 'server' | 'proxy' = 'server'): StopTarget {
  const server = id.replace(/-\d+$/, '')
  const record: ProcessRecord = {
    id,
    kind,
    server,
    pid: 2,
    pgid: 2,
    startTime: '1',
    startedAt: 0,
    state: 'running',
    restarts: 0,
    logFile: '',
  }
  return { record, stopTimeoutMs: 1000, dependsOn }
}

const waves = (targets: StopTarget[]) => stopWaves(targets).map((wave) => wave.map((t) => t.record.id))

const cases: { name: string; targets: StopTarget[]; expected: string[][] }[] = [
  { name: 'nothing to stop', targets: [], expected: [] },
  {
    name: 'independent servers stop together',
    targets: [target('a-0'), target('b-0'), target('c-0')],
    expected: [['a-0', 'b-0', 'c-0']],
  },
  {
    name: 'the proxy goes first, even when listed last',
    targets: [target('a-0'), target('b-0'), target('nginx', [], 'proxy')],
    expected: [['nginx'], ['a-0', 'b-0']],
  },
  {
    name: 'dependents before what they depend on (queue stack)',
    targets: [
      target('redis-0'),
      target('api-0', ['redis']),
      target('worker-0', ['redis']),
      target('worker-1', ['redis']),
    ],
    expected: [['api-0', 'worker-0', 'worker-1'], ['redis-0']],
  },
  {
    name: 'a chain stops from its end',
    targets: [target('db-0'), target('cache-0', ['db']), target('web-0', ['cache'])],
    expected: [['web-0'], ['cache-0'], ['db-0']],
  },
  {
    name: 'a diamond: the shared dependency last, both sides together',
    targets: [
      target('base-0'),
      target('left-0', ['base']),
      target('right-0', ['base']),
      target('top-0', ['left', 'right']),
      target('alone-0'),
    ],
    expected: [['top-0', 'alone-0'], ['left-0', 'right-0'], ['base-0']],
  },
  {
    name: 'a dependency that is not being stopped does not hold anything back',
    targets: [target('api-0', ['redis']), target('web-0')],
    expected: [['api-0', 'web-0']],
  },
  {
    name: 'a cycle (rejected by validation) still stops everything',
    targets: [target('a-0', ['b']), target('b-0', ['a'])],
    expected: [['a-0', 'b-0']],
  },
]

for (const c of cases) test(`stopWaves: ${c.name}`, () => assert.deepEqual(waves(c.targets), c.expected))

test('stopTargets: host, stop_timeout and dependencies from the spec; defaults for a record without one', () => {
  const [api, stray] = [target('api-0').record, target('nginx', [], 'proxy').record]
  const spec = { host: '::1', stopTimeoutMs: 7000, dependsOn: ['core'] }
  assert.deepEqual(
    stopTargets([api, stray], (r) => (r.id === 'api-0' ? spec : undefined)),
    [
      { record: api, ...spec },
      { record: stray, host: undefined, stopTimeoutMs: 3000, dependsOn: [] },
    ],
  )
})

// A real process in its own process group, recorded the way the supervisor records one.
function managed(id: string, script: string, env: NodeJS.ProcessEnv = {}): { record: ProcessRecord; kill(): void } {
  // Tagged as the supervisor tags what it starts: stop signals nothing that does not carry the run's tag.
  const child = spawn(process.execPath, ['-e', script], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, BACKEND_MANAGER_RUN: `test-run/${id}`, ...env },
  })
  const pid = child.pid!
  const record: ProcessRecord = {
    id,
    kind: 'server',
    server: id.replace(/-\d+$/, ''),
    pid,
    pgid: pid,
    startTime: startTimeOf(pid)!,
    startedAt: Date.now(),
    state: 'running',
    restarts: 0,
    logFile: '',
  }
  return {
    record,
    kill() {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    },
  }
}

const procfsOnly = { skip: !hasProcfs && 'stopProcesses finds group members through /proc' }

test(
  'stopProcesses: SIGTERM stops a polite server, SIGKILL after stop_timeout a deaf one, and its port is released',
  procfsOnly,
  async (t) => {
    const port = await freePorts(1)
    const polite = managed('polite-0', "setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0))")
    const deaf = managed(
      'deaf-0',
      `process.on('SIGTERM', () => {}); require('net').createServer().listen(${port}, '127.0.0.1')`,
    )
    t.after(() => [polite, deaf].forEach((p) => p.kill()))
    await waitFor(() => listening(port), 5000, 'the deaf server to listen')
    const report = await stopProcesses(
      [
        { record: polite.record, stopTimeoutMs: 5000, dependsOn: [] },
        { record: deaf.record, stopTimeoutMs: 300, dependsOn: [] },
      ],
      { runId: 'test-run' },
    )
    assert.deepEqual(report.stopped.sort(), ['deaf-0', 'polite-0'])
    assert.deepEqual(report.killed, ['deaf-0'])
    assert.deepEqual(report.survivors, [])
    assert.ok(pidGone(polite.record.pid) && pidGone(deaf.record.pid))
    assert.equal(await listening(port), false)
  },
)

test('stopProcesses: a record whose pid now belongs to another process signals nothing', procfsOnly, async (t) => {
  const stranger = managed('web-0', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)", {
    BACKEND_MANAGER_RUN: 'another-run/web-0',
  })
  t.after(() => stranger.kill())
  const reused = { ...stranger.record, startTime: String(Number(stranger.record.startTime) + 500) }
  const report = await stopProcesses([{ record: reused, stopTimeoutMs: 100, dependsOn: [] }], { runId: 'test-run' })
  // Nothing of the recorded process is left, so it counts as stopped; the stranger was not touched.
  assert.deepEqual(report, { stopped: ['web-0'], killed: [], escaped: [], survivors: [] })
  assert.ok(pidAlive(stranger.record.pid, stranger.record.startTime))
})

test('stopProcesses: a port still held after the stop is reported with its owner', procfsOnly, async (t) => {
  const port = await freePorts(1)
  // This test process holds the port: it is not one of the stopped processes.
  const holder = net.createServer().listen(port, '127.0.0.1')
  t.after(() => holder.close())
  await waitFor(() => listening(port), 5000, 'the port to be held')
  const gone = managed('gone-0', 'process.exit(0)')
  await waitFor(() => pidGone(gone.record.pid), 5000, 'the process to exit')
  const report = await stopProcesses([{ record: { ...gone.record, port }, stopTimeoutMs: 100, dependsOn: [] }], {
    runId: 'test-run',
  })
  assert.equal(report.survivors.length, 1)
  assert.match(report.survivors[0], new RegExp(`^port ${port} is in use by pid ${process.pid} \\(.*\\) after stop$`))
})
