// The supervisor is the parent of what it runs: exit codes and signals are known, a clean exit is not restarted,
// and Ctrl+C during a start leaves nothing running. Real processes, ports and signals.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {
  fixtureServer,
  halfReadyStack,
  untilHalfWay,
  freePorts,
  pidGone,
  startOk,
  useHome,
  waitFor,
  type TestHome,
} from '../helpers.ts'

interface StatusJson {
  processes: { id: string; lastExit: string | null; state: string }[]
}

async function lastExit(home: TestHome, id: string): Promise<string | null | undefined> {
  const r = await home.cli(['status', '--json'])
  return (JSON.parse(r.stdout) as StatusJson).processes.find((p) => p.id === id)?.lastExit
}

test('a server exiting with code 3 shows "exited with code 3" in status and in the supervisor\'s log', async (t) => {
  const home = useHome(t)
  const port = await freePorts(2)
  const other = port + 1
  const config = home.writeConfig({
    servers: [
      fixtureServer('keeper', 'http-server.mjs', other),
      fixtureServer('three', 'exits-with.mjs', port, { restart: 'no', env: { EXIT_CODE: '3', EXIT_AFTER_MS: '1500' } }),
    ],
  })
  await startOk(home, config)
  await waitFor(async () => (await lastExit(home, 'three-0'))?.includes('code'), 30_000, 'three-0 to exit')
  assert.equal(await lastExit(home, 'three-0'), 'exited with code 3')
  await waitFor(
    () => home.readLog('supervisor.log').includes('three-0: crashed (exited with code 3)'),
    10_000,
    `the exit in the supervisor's log:\n${home.readLog('supervisor.log')}`,
  )
})

test('a server killed by SIGKILL shows "killed by SIGKILL" in status and in the supervisor\'s log', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('victim', 'http-server.mjs', port, { restart: 'no' })] })
  await startOk(home, config)
  const victim = home.record('victim-0')
  process.kill(victim.pid, 'SIGKILL')
  await waitFor(() => pidGone(victim.pid), 10_000, 'victim-0 to die')
  await waitFor(async () => (await lastExit(home, 'victim-0')) !== null, 30_000, 'the exit to be recorded')
  assert.equal(await lastExit(home, 'victim-0'), 'killed by SIGKILL')
  await waitFor(
    () => home.readLog('supervisor.log').includes('victim-0: crashed (killed by SIGKILL)'),
    10_000,
    `the exit in the supervisor's log:\n${home.readLog('supervisor.log')}`,
  )
})

test('a job exiting 0 under restart: on-failure runs exactly once', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const runs = path.join(home.root, 'job.runs')
  const config = home.writeConfig({
    servers: [
      fixtureServer('web', 'http-server.mjs', port),
      fixtureServer('job', 'exits-with.mjs', undefined, {
        restart: 'on-failure',
        env: { EXIT_CODE: '0', EXIT_AFTER_MS: '400', RUN_LOG: runs },
      }),
    ],
  })
  await startOk(home, config)
  await waitFor(async () => (await lastExit(home, 'job-0')) === 'exited with code 0', 30_000, 'the job to finish')
  // A restart would come within its first backoff (100 ms); the supervisor stays up to see it.
  const status = JSON.parse((await home.cli(['status', '--json'])).stdout) as StatusJson
  assert.equal(status.processes.find((p) => p.id === 'job-0')?.state, 'stopped')
  assert.equal(fs.readFileSync(runs, 'utf8').trim().split('\n').length, 1, fs.readFileSync(runs, 'utf8'))
})

test('Ctrl+C during a detached start leaves nothing running', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = halfReadyStack(home, base)
  const cli = home.spawnCli(['start', config])
  const records = await untilHalfWay(home, cli)
  process.kill(-cli.child.pid!, 'SIGINT')
  const r = await cli.done
  assert.notEqual(r.code, 0, 'an interrupted start reports failure')
  assert.match(r.stderr, /interrupted/)
  for (const p of records) assert.ok(pidGone(p.pid, p.startTime), `${p.id} (pid ${p.pid}) is still running`)
  await waitFor(() => home.processes().length === 0, 10_000, 'every process of this home to exit')
  assert.equal(fs.existsSync(home.statePath), false, 'the state file is left')
})

test('after the supervisor itself died, a start marks what it re-adopts as adopted; what it starts is its child', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const web = fixtureServer('web', 'http-server.mjs', base)
  const config = home.writeConfig({ servers: [web] })
  await startOk(home, config)
  assert.equal(home.record('web-0').adopted, undefined, 'a process the supervisor started is marked adopted')
  const { supervisor } = home.state()!
  process.kill(supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(supervisor.pid, supervisor.startTime), 10_000, 'the supervisor to die')
  const more = home.writeConfig({ servers: [web, fixtureServer('api', 'http-server.mjs', base + 1)] }, 'more.yaml')
  await startOk(home, more)
  assert.equal(home.record('web-0').adopted, true)
  assert.equal(home.record('api-0').adopted, undefined)
})
