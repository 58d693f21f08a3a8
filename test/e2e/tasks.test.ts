// kind: task: a process that runs to completion before the servers that depend on it; a failing one fails the start.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fixtureServer, freePorts, httpGet, listening, pidGone, startOk, stopOk, useHome, waitFor } from '../helpers.ts'

test('a task runs to its end before its dependent starts, which reads what it wrote; status shows it completed', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const file = path.join(home.root, 'generated.txt')
  const config = home.writeConfig({
    servers: [
      fixtureServer('api', 'reads-file.mjs', port, { depends_on: ['gen'], env: { READ_FILE: file } }),
      // Slow on purpose: a dependent started before the task ended would find no file and exit 1.
      { name: 'gen', kind: 'task', command: `sleep 0.5 && echo generated-by-task >> ${file}`, ready_timeout: 30 },
    ],
  })
  const plan = await home.cli(['plan', config])
  assert.equal(plan.code, 0, plan.stderr)
  assert.match(plan.stdout, /^gen-0 \(task\) +- +exit 0 /m)
  const started = await startOk(home, config)
  assert.match(started.stdout, /gen-0/)
  assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).body, 'generated-by-task\n')
  const unified = home.readLog('backend-unified.log')
  assert.match(unified, /^supervisor +>> gen-0 completed \(task exited with code 0\)$/m)
  assert.ok(unified.indexOf('gen-0 completed') < unified.indexOf('api-0 spawned'), unified)

  const status = await home.statusUntilHealthy()
  assert.equal(status.code, 0, `a completed task keeps the stack healthy:\n${status.stdout}`)
  assert.match(status.stdout, /^gen-0 +\S+ +- +completed +exit 0 /m)
  const json = JSON.parse((await home.cli(['status', '--json'])).stdout)
  const gen = json.processes.find((p: { id: string }) => p.id === 'gen-0')
  assert.equal(gen.state, 'completed')
  assert.equal(gen.exitCode, 0)
  assert.equal(json.healthy, true)

  // A supervisor that takes the stack over (the last one was killed) does not run a completed task again.
  const supervisor = home.state()!.supervisor
  process.kill(supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(supervisor.pid, supervisor.startTime), 10_000, 'the supervisor to die')
  await startOk(home, config)
  // Long enough for the new supervisor to have looked at every process it took over more than once.
  const only = await home.cli(['restart', '--only', 'api'])
  assert.equal(only.code, 0, `${only.stdout}\n${only.stderr}`)
  assert.equal(home.record('gen-0').state, 'completed')
  assert.equal(fs.readFileSync(file, 'utf8'), 'generated-by-task\n')

  // A restart runs the task again (it appends a line) before the server it restarts reads the file again.
  const restarted = await home.cli(['restart'])
  assert.equal(restarted.code, 0, `${restarted.stdout}\n${restarted.stderr}`)
  assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).body, 'generated-by-task\ngenerated-by-task\n')
  assert.equal(home.record('gen-0').state, 'completed')
  await stopOk(home)
})

test('a failing task fails the start naming it, its exit code and last lines; nothing is left running', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const file = path.join(home.root, 'never-written.txt')
  const config = home.writeConfig({
    servers: [
      // Starts at the same time as the task, so the failure has something to stop.
      fixtureServer('side', 'http-server.mjs', base),
      { name: 'migrate', kind: 'task', command: 'echo migrating; echo "no such table: users" >&2; exit 3' },
      fixtureServer('api', 'reads-file.mjs', base + 1, { depends_on: ['migrate'], env: { READ_FILE: file } }),
    ],
  })
  const r = await home.cli(['start', config])
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stderr, /task migrate-0 failed: exited with code 3/)
  assert.match(r.stderr, /\| migrating\n.*\| no such table: users/)
  assert.equal(fs.existsSync(home.statePath), false, 'the state file is removed')
  await waitFor(async () => !(await listening(base)), 10_000, 'side to release its port')
  assert.deepEqual(home.stackProcesses(), { supervisors: [], tagged: [] })
  assert.doesNotMatch(home.readLog('backend-unified.log'), /api-0 spawned/)
})
