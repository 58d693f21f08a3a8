// The queue-worker stack people run by hand in several terminals: Redis, an API that queues jobs,
// and two portless workers that take them from Redis, all started and stopped as one stack.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  commandLine,
  freePorts,
  hasCommand,
  httpGet,
  httpRequest,
  listening,
  pidGone,
  useHome,
  waitFor,
} from '../helpers.ts'

test('a job pushed through the API is processed by a worker, and stop takes the whole stack down', async (t) => {
  if (!hasCommand('redis-server'))
    return t.skip('redis-server not installed: "make system-deps" installs the Debian package')
  const home = useHome(t)
  const base = await freePorts(2)
  const redisPort = base
  const apiPort = base + 1
  const env = { REDIS_PORT: String(redisPort) }
  const config = home.writeConfig({
    servers: [
      {
        name: 'redis',
        command: "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no",
        port: redisPort,
        health: 'tcp',
        stop_timeout: 2,
        ready_timeout: 10,
      },
      {
        name: 'api',
        command: 'node test/fixtures/queue-api.mjs',
        port: apiPort,
        health: '/health',
        env,
        depends_on: ['redis'],
        stop_timeout: 1,
        ready_timeout: 5,
      },
      {
        name: 'worker',
        command: 'node test/fixtures/queue-worker.mjs',
        instances: 2,
        env,
        depends_on: ['redis'],
        stop_timeout: 1,
        ready_timeout: 5,
      },
    ],
  })
  const started = await home.cli(['start', config])
  assert.equal(started.code, 0, `${started.stdout}${started.stderr}${home.readLog('supervisor.log')}`)
  const state = home.state()!
  assert.deepEqual(
    state.processes.map((p) => p.id),
    ['redis-0', 'api-0', 'worker-0', 'worker-1'],
  )
  // The redis record is redis-server itself (a plain command runs through exec), not a shell around it.
  assert.match(commandLine(state.processes[0].pid), /^redis-server /)
  const status = await home.statusUntilHealthy()
  assert.equal(status.code, 0, status.stdout + home.readLog('supervisor.log'))

  const workerPids = new Set(state.processes.filter((p) => p.server === 'worker').map((p) => p.pid))
  const jobs: { id: string; n: number }[] = []
  for (const n of [7, 12, 30]) {
    const queued = await httpRequest('POST', `http://127.0.0.1:${apiPort}/jobs`, JSON.stringify({ n }))
    assert.equal(queued.status, 202, queued.body)
    jobs.push({ id: queued.json().id, n })
  }
  for (const job of jobs) {
    const done = await waitFor(
      async () => {
        const r = await httpGet(`http://127.0.0.1:${apiPort}/jobs/${job.id}`)
        return r.status === 200 && r.json()
      },
      10_000,
      `job ${job.id} to be processed`,
    )
    assert.equal(done.square, job.n * job.n)
    assert.match(done.worker, /^worker-[01]$/)
    assert.ok(workerPids.has(done.pid), `job ${job.id} was processed by pid ${done.pid}, not by a managed worker`)
  }
  assert.match(home.readLog('worker-0.log') + home.readLog('worker-1.log'), /job .* done/)

  const stopped = await home.cli(['stop'])
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr)
  assert.match(stopped.stdout, /stopped 4 processes/)
  for (const port of [redisPort, apiPort]) assert.equal(await listening(port), false, `port ${port} still open`)
  for (const p of state.processes) assert.ok(pidGone(p.pid, p.startTime), `${p.id} (pid ${p.pid}) survived the stop`)
  assert.deepEqual(home.stackProcesses().tagged, [], 'a process of the stack survived the stop')
})
