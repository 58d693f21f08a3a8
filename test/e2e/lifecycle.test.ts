// End-to-end lifecycle: real processes, real ports and signals, a temporary state dir per test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {
  commandLine,
  environValue,
  fixtureServer,
  freePorts,
  groupMembers,
  hasCommand,
  httpGet,
  listening,
  crashingStack,
  halfReadyStack,
  untilHalfWay,
  pidAlive,
  pidGone,
  procStat,
  sleep,
  spawnOwned,
  startOk,
  stopOk,
  useHome,
  waitFor,
  type RecordedProcess,
  type RecordedState,
  type TestHome,
} from '../helpers.ts'

async function assertPortsFree(ports: number[]): Promise<void> {
  for (const port of ports) assert.equal(await listening(port), false, `port ${port} still accepts connections`)
}

// Nothing of the stack is left: ports closed, recorded pids and their groups gone, no process
// carrying this home in its environment, no state file.
async function assertStackGone(
  home: TestHome,
  ports: number[],
  records: RecordedProcess[],
  supervisorPid?: number,
): Promise<void> {
  await assertPortsFree(ports)
  for (const r of records) {
    assert.ok(pidGone(r.pid, r.startTime), `${r.id} pid ${r.pid} is still alive`)
    assert.deepEqual(groupMembers(r.pgid), [], `${r.id} process group ${r.pgid} still has members`)
  }
  if (supervisorPid) assert.ok(pidGone(supervisorPid), `supervisor pid ${supervisorPid} is still alive`)
  await assertNoProcesses(home)
  assert.equal(fs.existsSync(home.statePath), false, 'the state file is still there')
}

// No server (or anything it started) is alive, and soon nothing at all that a command against this home started.
async function assertNoProcesses(home: TestHome): Promise<void> {
  assert.deepEqual(home.stackProcesses().tagged.map(describe), [], 'processes started by the stack are still alive')
  // A helper of an exiting CLI or supervisor (the TypeScript loader's service) goes with its parent.
  await waitFor(() => home.processes().length === 0, 3000, 'no process of this home to be left').catch(() => {
    assert.deepEqual(home.processes().map(describe), [], 'processes started by the commands are still alive')
  })
}

const describe = (pid: number) => `${pid} ${commandLine(pid)}`

// Exactly one supervisor (the recorded one) and exactly the recorded servers: nothing runs twice.
function assertOneStack(home: TestHome, state: RecordedState): void {
  const { supervisors, tagged } = home.stackProcesses()
  assert.deepEqual(supervisors, [state.supervisor.pid], `supervisors: ${supervisors.map(describe).join(', ')}`)
  assert.deepEqual(
    tagged.sort(),
    state.processes.map((p) => p.pid).sort(),
    `tagged processes: ${tagged.map(describe).join(', ')}`,
  )
}

test('start -> healthy -> requests -> stop leaves every port free and no process alive', async (t) => {
  const home = useHome(t)
  const base = await freePorts(3)
  const config = home.writeConfig({
    servers: [
      fixtureServer('api', 'http-server.mjs', base),
      // The bundled demo server, run as a user would run it (tsx from the repository).
      {
        name: 'demo',
        command: 'node --import tsx examples/server.ts',
        port: base + 1,
        instances: 2,
        health: '/health',
        depends_on: ['api'],
        stop_timeout: 1,
        ready_timeout: 10,
      },
    ],
  })
  const started = await startOk(home, config)
  assert.match(started.stdout, /^ready\s+api-0\s+pid \d+ port \d+/m)
  assert.match(started.stdout, /^ready\s+demo-1\s+pid \d+/m)
  assert.match(started.stdout, /all 3 processes ready in \d+ ms \(supervisor pid \d+\)/)

  const state = home.state()!
  assert.deepEqual(
    state.processes.map((p) => [p.id, p.port, p.state]),
    [
      ['api-0', base, 'running'],
      ['demo-0', base + 1, 'running'],
      ['demo-1', base + 2, 'running'],
    ],
  )
  for (const p of state.processes) {
    assert.ok(pidAlive(p.pid, p.startTime), `${p.id} is not alive`)
    assert.equal(p.pgid, p.pid, `${p.id} leads its own process group`)
  }
  const supervisor = state.supervisor.pid
  assert.ok(pidAlive(supervisor, state.supervisor.startTime), 'the detached supervisor is alive')

  const status = await home.statusUntilHealthy()
  assert.equal(status.code, 0, status.stdout + status.stderr + home.readLog('supervisor.log'))
  assert.match(status.stdout, /all healthy/)
  assert.match(status.stdout, new RegExp(`^demo-1\\s+${state.processes[2].pid}\\s+${base + 2}\\s+running\\s+ok`, 'm'))

  const api = (await httpGet(`http://127.0.0.1:${base}/hello`)).json()
  assert.deepEqual([api.server, api.instance, api.port, api.path], ['api', 0, base, '/hello'])
  const demo = (await httpGet(`http://127.0.0.1:${base + 2}/api/v1/anything`)).json()
  assert.deepEqual([demo.server, demo.instance, demo.port], ['demo', 1, base + 2])

  const stopped = await stopOk(home)
  assert.match(stopped.stdout, /stopped 3 processes in \d+ ms; all ports released/)
  await assertStackGone(home, [base, base + 1, base + 2], state.processes, supervisor)
})

test('a server that spawns grandchildren leaves nothing behind', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  // The shell starts a grandchild, then becomes the server: the sleep lives on in the server's group.
  const config = home.writeConfig({
    servers: [
      fixtureServer('nest', 'http-server.mjs', port, {
        command: 'sleep 1000 & exec node test/fixtures/http-server.mjs',
      }),
    ],
  })
  await startOk(home, config)
  const record = home.record('nest-0')
  const members = await waitFor(
    () => {
      const m = groupMembers(record.pgid)
      return m.length >= 2 && m
    },
    5000,
    'the grandchild in the server group',
  )
  const sleeper = members.find((pid) => commandLine(pid) === 'sleep 1000')
  assert.ok(sleeper, `no "sleep 1000" among ${members.map((p) => `${p} ${commandLine(p)}`).join(', ')}`)
  assert.equal(procStat(sleeper)!.pgrp, record.pgid)

  await stopOk(home)
  assert.ok(pidGone(sleeper), `grandchild ${sleeper} survived the stop`)
  await assertStackGone(home, [port], [record])
})

test('a server that ignores SIGTERM is killed after stop_timeout', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('stubborn', 'stubborn.mjs', port)] })
  await startOk(home, config)
  const record = home.record('stubborn-0')

  const stopped = await stopOk(home)
  assert.match(stopped.stderr, /killed after stop_timeout: stubborn-0/)
  // It did get the polite signal first.
  assert.match(home.readLog('stubborn-0.log'), /stubborn: got SIGTERM, ignoring it/)
  await assertStackGone(home, [port], [record])
})

test('a busy port refuses the start and names its owner; nothing is started', async (t) => {
  if (!hasCommand('python3')) return t.skip('python3 not installed: it plays the unrelated port owner')
  const home = useHome(t)
  const base = await freePorts(2)
  const owner = spawnOwned(home, 'python3', ['-m', 'http.server', String(base + 1), '--bind', '127.0.0.1'])
  await waitFor(() => listening(base + 1), 15_000, 'python3 -m http.server to listen')
  const config = home.writeConfig({
    servers: [fixtureServer('first', 'http-server.mjs', base), fixtureServer('second', 'http-server.mjs', base + 1)],
  })

  const r = await home.cli(['start', config])
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(
    r.stderr,
    new RegExp(`port ${base + 1} is in use by pid ${owner.pid} \\([^)]*python3[^)]* -m http\\.server ${base + 1}`),
  )
  assert.match(r.stderr, /nothing was started/)
  await assertPortsFree([base])
  await assertNoProcesses(home)
  assert.equal(fs.existsSync(home.statePath), false)
  assert.ok(pidAlive(owner.pid!), 'the port owner was touched')
})

test('a crashing server is restarted with backoff, then marked crashed with the reason', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = crashingStack(home, base)
  await startOk(home, config)
  const steady = home.record('steady-0')

  const crashed = await waitFor(
    () => {
      const r = home.state()?.processes.find((p) => p.id === 'crasher-0')
      return r?.state === 'crashed' && r
    },
    30_000,
    'crasher-0 to be marked crashed',
  )
  assert.equal(crashed.restarts, 2)
  assert.match(crashed.lastExit!, /^exited with code 1; gave up after 2 restarts \(max_restarts 2\)$/)

  const status = await home.cli(['status'])
  assert.equal(status.code, 1, 'a crashed server makes the stack degraded')
  assert.match(status.stdout, /^crasher-0\s+\d+\s+\d+\s+crashed\s/m)
  assert.match(status.stdout, /crasher-0: exited with code 1; gave up after 2 restarts/)
  const json = JSON.parse((await home.cli(['status', '--json'])).stdout)
  assert.equal(json.processes.find((p: { id: string }) => p.id === 'crasher-0').lastExit, crashed.lastExit)

  // Each restart waited longer than the one before.
  const delays = [...home.readLog('supervisor.log').matchAll(/crasher-0: restarting \(.*\); again in (\d+) ms/g)].map(
    (m) => Number(m[1]),
  )
  assert.equal(delays.length, 2, home.readLog('supervisor.log'))
  assert.ok(delays[1] > delays[0], `backoff does not grow: ${delays.join(', ')}`)
  assert.match(home.readLog('crasher-0.log'), /crasher: something went wrong/)

  // The others are untouched.
  assert.equal(home.record('steady-0').pid, steady.pid)
  assert.equal((await httpGet(`http://127.0.0.1:${base}/`)).status, 200)
  await stopOk(home)
  await assertStackGone(home, [base, base + 1], [steady])
})

test('a server that never becomes ready stops everything; start exits 1 naming it with its last log lines', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [
      fixtureServer('early', 'http-server.mjs', base),
      fixtureServer('never', 'never-ready.mjs', base + 1, { ready_timeout: 1.5 }),
    ],
  })
  const r = await home.cli(['start', config])
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(r.stdout, /^ready\s+early-0/m)
  assert.match(r.stderr, /never-0 did not become ready: not ready within 1\.5 s/)
  assert.match(r.stderr, /last (?:\d+ lines|line) of .*never-0\.log:\n\s+\| never-ready: warming up forever/)
  await assertPortsFree([base, base + 1])
  await assertNoProcesses(home)
  assert.equal(fs.existsSync(home.statePath), false)
})

test('supervisor killed: servers keep answering, status says so, start re-adopts without duplicates, stop cleans all', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', base, { instances: 2 })] })
  await startOk(home, config)
  const before = home.state()!
  process.kill(before.supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(before.supervisor.pid), 5000, 'the supervisor to die')

  for (const p of before.processes) assert.equal((await httpGet(`http://127.0.0.1:${p.port}/`)).json().pid, p.pid)
  const status = await home.cli(['status'])
  assert.equal(status.code, 1, status.stdout)
  assert.match(status.stdout, /^supervisor\s+\d+\s+-\s+gone/m)
  assert.match(status.stdout, /the supervisor is gone/)
  const json = JSON.parse((await home.cli(['status', '--json'])).stdout) as {
    processes: { id: string; name: string; instance: number; state: string }[]
  }
  assert.deepEqual(
    json.processes.map((p) => [p.id, p.name, p.instance, p.state]),
    [
      ['supervisor', 'supervisor', 0, 'gone'],
      ['web-0', 'web', 0, 'running'],
      ['web-1', 'web', 1, 'running'],
    ],
  )

  const again = await startOk(home, config)
  assert.match(again.stdout, /^adopted\s+web-0\s+pid \d+ \(already running\)/m)
  assert.match(again.stdout, /^adopted\s+web-1/m)
  const after = home.state()!
  assert.deepEqual(
    after.processes.map((p) => [p.id, p.pid]),
    before.processes.map((p) => [p.id, p.pid]),
  )
  assert.notEqual(after.supervisor.pid, before.supervisor.pid)
  assert.ok(pidAlive(after.supervisor.pid, after.supervisor.startTime))
  // Two servers and one supervisor: nothing was started twice.
  assertOneStack(home, after)
  assert.equal((await home.statusUntilHealthy()).code, 0, home.readLog('supervisor.log'))

  await stopOk(home)
  await assertStackGone(home, [base, base + 1], after.processes, after.supervisor.pid)
})

test('start over an unwatched stack adopts what is unchanged, and stops what the config dropped or changed', async (t) => {
  const home = useHome(t)
  const base = await freePorts(4)
  const first = home.writeConfig({
    servers: [
      fixtureServer('keep', 'http-server.mjs', base),
      fixtureServer('moved', 'http-server.mjs', base + 1),
      fixtureServer('dropped', 'http-server.mjs', base + 2),
    ],
  })
  await startOk(home, first)
  const before = home.state()!
  process.kill(before.supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(before.supervisor.pid), 5000, 'the supervisor to die')

  const second = home.writeConfig({
    servers: [fixtureServer('keep', 'http-server.mjs', base), fixtureServer('moved', 'http-server.mjs', base + 3)],
  })
  const again = await startOk(home, second)
  assert.match(again.stderr, /stopping what the config no longer runs as it was: moved-0, dropped-0/)
  assert.match(again.stdout, /^adopted\s+keep-0/m)
  const old = new Map(before.processes.map((p) => [p.id, p]))
  const after = home.state()!
  assert.equal(after.processes.find((p) => p.id === 'keep-0')!.pid, old.get('keep-0')!.pid)
  for (const id of ['moved-0', 'dropped-0'])
    await waitFor(() => pidGone(old.get(id)!.pid), 5000, `${id}'s old process to be gone`)
  assert.deepEqual(after.processes.map((p) => p.id).sort(), ['keep-0', 'moved-0'])
  assert.equal(
    (await httpGet(`http://127.0.0.1:${base + 3}/`)).json().pid,
    after.processes.find((p) => p.id === 'moved-0')!.pid,
  )
  await assertPortsFree([base + 1, base + 2])
  assertOneStack(home, after)

  await stopOk(home)
  await assertStackGone(home, [base, base + 3], after.processes, after.supervisor.pid)
})

test('a state file pointing at a reused pid never signals that unrelated process', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  await startOk(home, config)
  const real = home.state()!
  // The machine "rebooted": every process of the stack is gone, the state file stays.
  process.kill(real.supervisor.pid, 'SIGKILL')
  process.kill(-real.processes[0].pgid, 'SIGKILL')
  await waitFor(() => pidGone(real.supervisor.pid) && pidGone(real.processes[0].pid), 5000, 'the stack to die')

  const signals = path.join(home.root, 'signals.log')
  const stranger = spawnOwned(home, process.execPath, ['test/fixtures/signal-recorder.mjs'], {
    env: { SIGNAL_LOG: signals },
  })
  await waitFor(() => fs.existsSync(`${signals}.ready`), 5000, 'the unrelated process to start')
  const realStart = procStat(stranger.pid!)!.startTime
  const wrongStart = String(Number(realStart) + 1000)
  // Its pid now shows up in the state file, as if the kernel had handed the recorded pids out again.
  const forged = JSON.parse(fs.readFileSync(home.statePath, 'utf8'))
  forged.supervisor = { pid: stranger.pid, startTime: wrongStart }
  forged.processes[0] = { ...forged.processes[0], pid: stranger.pid, pgid: stranger.pid, startTime: wrongStart }
  fs.writeFileSync(home.statePath, JSON.stringify(forged))

  const status = JSON.parse((await home.cli(['status', '--json'])).stdout)
  assert.deepEqual(
    status.processes.map((p: { id: string; state: string }) => [p.id, p.state]),
    [
      ['supervisor', 'gone'],
      ['web-0', 'gone'],
    ],
  )

  // start must not adopt it: a fresh server comes up on the port.
  const started = await startOk(home, config)
  assert.doesNotMatch(started.stdout, /adopted/)
  const fresh = home.record('web-0')
  assert.notEqual(fresh.pid, stranger.pid)
  assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).json().pid, fresh.pid)

  await stopOk(home)
  await assertStackGone(home, [port], [fresh])
  // The forged record once more, now with nothing else running: stop has only the stranger to look at.
  fs.mkdirSync(path.dirname(home.statePath), { recursive: true })
  fs.writeFileSync(home.statePath, JSON.stringify(forged))
  await stopOk(home)

  assert.ok(pidAlive(stranger.pid!, realStart), 'the unrelated process was killed')
  assert.equal(
    fs.existsSync(signals) ? fs.readFileSync(signals, 'utf8') : '',
    '',
    'the unrelated process received signals',
  )
})

test('two concurrent starts bring up one stack; the other says why it did not', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [fixtureServer('one', 'http-server.mjs', base), fixtureServer('two', 'http-server.mjs', base + 1)],
  })
  const results = await Promise.all([home.cli(['start', config]), home.cli(['start', config])])
  // The second either meets the first at work (exit 1) or finds its stack already running this config (exit 0).
  const loser =
    results.find((r) => r.code !== 0) ?? results.find((r) => /already running with this config/.test(r.stdout))!
  assert.ok(
    loser && results.every((r) => r === loser || r.code === 0),
    results.map((r) => r.stdout + r.stderr).join('\n---\n'),
  )
  assert.match(
    loser.stdout + loser.stderr,
    /another "start" \(pid \d+: .*\) is in progress|a stack is already running|already running with this config/,
  )

  const state = home.state()!
  assert.deepEqual(
    state.processes.map((p) => p.id),
    ['one-0', 'two-0'],
  )
  for (const p of state.processes) assert.equal((await httpGet(`http://127.0.0.1:${p.port}/`)).json().pid, p.pid)
  assertOneStack(home, state)

  await stopOk(home)
  await assertStackGone(home, [base, base + 1], state.processes, state.supervisor.pid)
})

test('a child that escapes with setsid is found by its run tag and stopped', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('escaper', 'escaper.mjs', port)] })
  await startOk(home, config)
  const state = home.state()!
  const record = state.processes[0]
  const escaped: number = (await httpGet(`http://127.0.0.1:${port}/`)).json().escaped
  const stat = procStat(escaped)!
  assert.notEqual(stat.pgrp, record.pgid, 'the child did not leave the process group')
  assert.notEqual(stat.session, procStat(record.pid)!.session, 'the child did not start a new session')
  assert.equal(environValue(escaped, 'BACKEND_MANAGER_RUN'), `${state.runId}/escaper-0`)

  const stopped = await stopOk(home)
  assert.match(
    stopped.stderr,
    new RegExp(`stopped an escaped process: pid ${escaped} \\(sleep 1000\\) started by escaper-0`),
  )
  assert.ok(pidGone(escaped, stat.startTime), `escaped pid ${escaped} survived`)
  await assertStackGone(home, [port], [record])
})

test('restart --only NAME restarts just that server and leaves the others running', async (t) => {
  const home = useHome(t)
  const base = await freePorts(3)
  const config = home.writeConfig({
    servers: [
      fixtureServer('keep', 'http-server.mjs', base, { instances: 2 }),
      fixtureServer('bounce', 'http-server.mjs', base + 2),
    ],
  })
  await startOk(home, config)
  const before = home.state()!
  const pid = (id: string, s = home.state()!) => s.processes.find((p) => p.id === id)!.pid

  const r = await home.cli(['restart', config, '--only', 'bounce'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /restarted bounce in \d+ ms/)
  const after = home.state()!
  assert.notEqual(pid('bounce-0', after), pid('bounce-0', before))
  assert.ok(pidGone(pid('bounce-0', before)), 'the old bounce-0 is still alive')
  assert.equal(pid('keep-0', after), pid('keep-0', before))
  assert.equal(pid('keep-1', after), pid('keep-1', before))
  assert.equal((await httpGet(`http://127.0.0.1:${base + 2}/`)).json().pid, pid('bounce-0', after))
  assert.equal((await httpGet(`http://127.0.0.1:${base}/`)).json().pid, pid('keep-0', before))
  // The same supervisor restarted it in place and watches the result.
  assert.equal(after.supervisor.pid, before.supervisor.pid, 'the supervisor was replaced')
  assert.ok(pidAlive(after.supervisor.pid, after.supervisor.startTime))
  assertOneStack(home, after)
  assert.equal((await home.statusUntilHealthy()).code, 0, home.readLog('supervisor.log'))

  await stopOk(home)
  await assertStackGone(home, [base, base + 1, base + 2], after.processes, after.supervisor.pid)
})

test('restart stops everything, waits for the ports, and starts it all again', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [fixtureServer('one', 'http-server.mjs', base), fixtureServer('two', 'stubborn.mjs', base + 1)],
  })
  await startOk(home, config)
  const before = home.state()!
  const r = await home.cli(['restart', config])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /restarted 2 processes in \d+ ms/)
  const after = home.state()!
  for (const old of before.processes) {
    assert.ok(pidGone(old.pid, old.startTime), `old ${old.id} is still alive`)
    assert.notEqual(after.processes.find((p) => p.id === old.id)!.pid, old.pid)
  }
  // Same config: the running supervisor restarted them in place.
  assert.equal(after.supervisor.pid, before.supervisor.pid, 'the supervisor was replaced')
  assertOneStack(home, after)
  assert.equal((await httpGet(`http://127.0.0.1:${base}/`)).json().pid, after.processes[0].pid)
  await stopOk(home)
  await assertStackGone(home, [base, base + 1], after.processes, after.supervisor.pid)
})

test('stop when nothing runs says so and exits 0', async (t) => {
  const home = useHome(t)
  const r = await home.cli(['stop'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `no stack here (nothing runs from ${home.root}); none running elsewhere\n`)
  assert.equal(r.stderr, '')
  assert.equal(fs.existsSync(home.statePath), false)
  const status = await home.cli(['status'])
  assert.equal(status.code, 3, status.stdout)
  assert.match(status.stdout, /^no stack here/)
})

test('a corrupt state file gives a clear error naming the file, exit 2', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  fs.mkdirSync(path.dirname(home.statePath), { recursive: true })
  fs.writeFileSync(home.statePath, '{"version": 1, "processes": [')
  for (const args of [['stop'], ['status'], ['start', config]]) {
    const r = await home.cli(args)
    assert.equal(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`)
    assert.ok(r.stderr.includes(`${home.statePath}: not valid JSON`), `${args[0]}: ${r.stderr}`)
  }
  await assertPortsFree([port])
  await assertNoProcesses(home)
  assert.equal(fs.readFileSync(home.statePath, 'utf8'), '{"version": 1, "processes": [', 'the damaged file was changed')
})

test('start --foreground stops everything on SIGINT', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [fixtureServer('one', 'http-server.mjs', base), fixtureServer('two', 'stubborn.mjs', base + 1)],
  })
  const fg = home.spawnCli(['start', config, '--foreground'])
  await waitFor(
    () => fg.output().stdout.includes('Ctrl+C stops everything'),
    20_000,
    `the foreground start to be ready (${JSON.stringify(fg.output())})`,
  )
  const state = home.state()!
  assert.equal(state.processes.length, 2)
  assert.ok(pidAlive(state.processes[0].pid))
  // Ctrl+C: the terminal signals the whole foreground job.
  process.kill(-fg.child.pid!, 'SIGINT')
  const r = await fg.done
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /stopped 2 processes in \d+ ms; all ports released/)
  // The terminal shows the unified log while it runs, as foreman does.
  assert.match(r.stdout, /^one-0 {15}>> /m)
  await assertStackGone(home, [base, base + 1], state.processes)
})

test('Ctrl+C while a foreground start is still waiting stops what was started', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = halfReadyStack(home, base)
  const fg = home.spawnCli(['start', config, '--foreground'])
  const records = await untilHalfWay(home, fg)
  process.kill(-fg.child.pid!, 'SIGINT')
  const r = await fg.done
  assert.notEqual(r.code, 0, 'an interrupted start reports failure')
  assert.match(r.stderr, /interrupted/)
  await assertStackGone(home, [base, base + 1], records)
})

test('start --foreground refuses a second stack and a busy port like a detached start does', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', base)] })
  await startOk(home, config)
  const running = home.state()!
  const second = await home.cli(['start', config, '--foreground'], { timeoutMs: 20_000 })
  assert.equal(second.code, 1, second.stdout + second.stderr)
  assert.match(second.stderr, /a stack is already running/)
  // The running stack was neither adopted nor stopped by the refused start.
  assert.deepEqual(
    home.state()!.processes.map((p) => [p.pid, p.restarts]),
    running.processes.map((p) => [p.pid, 0]),
  )
  assert.equal(home.state()!.supervisor.pid, running.supervisor.pid)
  await stopOk(home)

  // Now the port is taken by something else.
  const other = useHome(t)
  const owner = spawnOwned(other, process.execPath, ['test/fixtures/http-server.mjs'], { env: { PORT: String(base) } })
  await waitFor(() => listening(base), 10_000, 'the unrelated server to listen')
  const busy = await home.cli(['start', config, '--foreground'], { timeoutMs: 20_000 })
  assert.equal(busy.code, 1, busy.stdout + busy.stderr)
  assert.match(
    busy.stderr,
    new RegExp(`port ${base} is in use by pid ${owner.pid} \\(.*http-server\\.mjs\\)\\nnothing was started`),
  )
  await assertNoProcesses(home)
})

test('start --no-wait records its supervisor at once, so a second start right after finds it and starts nothing', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  const first = await home.cli(['start', config, '--no-wait'])
  assert.equal(first.code, 0, first.stdout + first.stderr)
  const supervisorPid = Number(/supervisor pid (\d+)/.exec(first.stdout)?.[1])
  // Read before the supervisor has had time to write anything itself.
  assert.equal(home.state()?.supervisor.pid, supervisorPid)
  const second = await home.cli(['start', config, '--no-wait'])
  assert.equal(second.code, 0, second.stdout + second.stderr)
  assert.match(
    second.stdout,
    new RegExp(`already (starting|running) with this config \\(.*supervisor pid ${supervisorPid}\\)`),
  )

  assert.equal((await home.statusUntilHealthy()).code, 0, home.readLog('supervisor.log'))
  const state = home.state()!
  assertOneStack(home, state)
  assert.equal(home.record('web-0').restarts, 0)
  await stopOk(home)
  await assertStackGone(home, [port], state.processes, supervisorPid)
})

test('stop while a --no-wait start is still bringing servers up leaves nothing behind', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [
      // Slow to listen and deaf to SIGTERM: it becomes ready while stop is still waiting for it.
      fixtureServer('slow', 'stubborn.mjs', base, {
        stop_timeout: 2,
        ready_timeout: 10,
        env: { LISTEN_DELAY_MS: '1000' },
      }),
      fixtureServer('after', 'http-server.mjs', base + 1, { depends_on: ['slow'] }),
    ],
  })
  const r = await home.cli(['start', config, '--no-wait'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  // Stop once slow-0 runs (and has set up its signal handler) but is not listening yet.
  await waitFor(() => /slow-0: spawned/.test(home.readLog('supervisor.log')), 15_000, 'slow-0 to be spawned')
  await sleep(300)
  const records = home.state()!.processes
  await stopOk(home)
  await sleep(500)
  await assertStackGone(home, [base, base + 1], records)
})

test('behind nginx: start -> requests through the proxy -> stop leaves every port free', async (t) => {
  const home = useHome(t)
  const check = await home.cli(['check-nginx'])
  if (check.code !== 0)
    return t.skip(`no usable nginx ("check-nginx" exit ${check.code}: ${check.stderr.trim().split('\n')[0]})`)
  const base = await freePorts(4)
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: base + 3, api_prefix: '/api/v1' },
    servers: [
      fixtureServer('core', 'http-server.mjs', base),
      fixtureServer('broker', 'http-server.mjs', base + 1, { instances: 2, modules: ['broker'] }),
    ],
  })
  const started = await home.cli(['start', config])
  assert.equal(started.code, 0, `${started.stdout}${started.stderr}${home.readLog('supervisor.log')}`)
  const state = home.state()!
  const proxy = state.processes.find((p) => p.kind === 'proxy')
  assert.ok(proxy, `no proxy process in the state file: ${JSON.stringify(state.processes)}`)
  assert.equal(proxy.port, base + 3)

  const viaProxy = (p: string) => httpGet(`http://127.0.0.1:${base + 3}${p}`)
  assert.equal((await viaProxy('/anything')).json().server, 'core')
  const brokerAnswers = new Set<number>()
  for (let i = 0; i < 4; i++) {
    const r = (await viaProxy('/api/v1/broker/orders')).json()
    assert.equal(r.server, 'broker')
    brokerAnswers.add(r.instance)
  }
  // Round-robin over both instances.
  assert.deepEqual([...brokerAnswers].sort(), [0, 1])
  const status = await home.statusUntilHealthy()
  assert.equal(status.code, 0, status.stdout + home.readLog('supervisor.log'))
  assert.match(status.stdout, new RegExp(`^nginx\\s+${proxy.pid}\\s+${base + 3}\\s+running`, 'm'))

  const stopped = await stopOk(home)
  assert.match(stopped.stdout, /stopped 4 processes/)
  await assertStackGone(home, [base, base + 1, base + 2, base + 3], state.processes, state.supervisor.pid)
})
