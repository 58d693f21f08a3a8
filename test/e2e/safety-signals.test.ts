// Signals go only to the stack's own processes: forged state files, reused pids and process groups,
// stopped (SIGSTOP) processes, a start killed half way, a damaged state file. Real processes, ports and signals.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { startTimeOf } from '../../lib/os/platform.ts'
import { supervisorAlive, type StackState } from '../../lib/stack/state.ts'
import {
  commandLine,
  environValue,
  fixtureServer,
  freePorts,
  groupMembers,
  listening,
  pidAlive,
  pidGone,
  procStat,
  spawnOwned,
  startOk,
  stopOk,
  useHome,
  waitFor,
  type RecordedProcess,
  type TestHome,
} from '../helpers.ts'

// A live process that records every catchable signal it gets; SIGKILL shows as its death.
async function stranger(
  home: TestHome,
  name: string,
): Promise<{ pid: number; startTime: string; signals: () => string }> {
  const log = path.join(home.root, `${name}.signals`)
  const child = spawnOwned(home, process.execPath, ['test/fixtures/signal-recorder.mjs'], { env: { SIGNAL_LOG: log } })
  await waitFor(() => fs.existsSync(`${log}.ready`), 10_000, `${name} to start`)
  return {
    pid: child.pid!,
    startTime: procStat(child.pid!)!.startTime,
    signals: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''),
  }
}

function editState(home: TestHome, edit: (state: any) => void): void {
  const state = JSON.parse(fs.readFileSync(home.statePath, 'utf8'))
  edit(state)
  fs.writeFileSync(home.statePath, JSON.stringify(state))
}

async function killSupervisor(home: TestHome): Promise<void> {
  const pid = home.state()!.supervisor.pid
  process.kill(pid, 'SIGKILL')
  await waitFor(() => pidGone(pid), 10_000, 'the supervisor to die')
}

test('pid 1 and a process without the run tag or the supervise command line are never taken for the supervisor', () => {
  const base = {
    version: 1,
    runId: 'r1',
    phase: 'running',
    startedAt: 0,
    plan: {},
    ports: [],
    processes: [],
  } as unknown as StackState
  assert.equal(supervisorAlive({ ...base, supervisor: { pid: 1, startTime: startTimeOf(1) ?? '1' } }), false)
  assert.equal(
    supervisorAlive({ ...base, supervisor: { pid: process.pid, startTime: startTimeOf(process.pid)! } }),
    false,
  )
  assert.equal(supervisorAlive({ ...base, supervisor: { pid: 0, startTime: '' } }), false)
})

test('a state file whose supervisor is an unrelated process: stop, restart and start never signal it', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  await startOk(home, config)
  const other = await stranger(home, 'stranger')
  const forge = () => editState(home, (s) => (s.supervisor = { pid: other.pid, startTime: other.startTime }))

  await killSupervisor(home)
  forge()
  const web = home.record('web-0')
  await stopOk(home)
  assert.ok(pidGone(web.pid, web.startTime), 'the recorded server was not stopped')
  assert.equal(await listening(port), false)

  await startOk(home, config)
  await killSupervisor(home)
  forge()
  const restarted = await home.cli(['restart', config])
  assert.equal(restarted.code, 0, restarted.stdout + restarted.stderr)

  // The supervisor recorded now is the unrelated process: start does not take the stack for running.
  await killSupervisor(home)
  forge()
  const again = await home.cli(['start', config])
  assert.equal(again.code, 0, again.stdout + again.stderr)
  assert.notEqual(home.state()!.supervisor.pid, other.pid)
  await stopOk(home)

  assert.ok(pidAlive(other.pid, other.startTime), 'the unrelated process was killed')
  assert.equal(other.signals(), '', 'the unrelated process received signals')
})

test('a state file naming an unrelated server (with its real start time) as a process: start neither adopts nor signals it', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  await startOk(home, config)
  const plan = home.state()!.plan
  await stopOk(home)
  // Someone else's server now listens on the port, and a forged state file says it is web-0.
  const other = spawnOwned(home, process.execPath, ['test/fixtures/http-server.mjs'], { env: { PORT: String(port) } })
  await waitFor(() => listening(port), 10_000, 'the unrelated server to listen')
  const startTime = procStat(other.pid!)!.startTime
  const record = {
    id: 'web-0',
    kind: 'server',
    server: 'web',
    port,
    pid: other.pid,
    pgid: other.pid,
    startTime,
    startedAt: Date.now(),
    state: 'running',
    restarts: 0,
  }
  fs.mkdirSync(path.dirname(home.statePath), { recursive: true })
  fs.writeFileSync(
    home.statePath,
    JSON.stringify({
      version: 1,
      runId: 'forged',
      phase: 'running',
      startedAt: 0,
      supervisor: { pid: 0, startTime: '' },
      plan,
      ports: [port],
      processes: [record],
    }),
  )

  const r = await home.cli(['start', config])
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(r.stderr, new RegExp(`port ${port} is in use by pid ${other.pid}`))
  assert.doesNotMatch(r.stdout, /adopted/)
  const stop = await home.cli(['stop'])
  assert.ok(pidAlive(other.pid!, startTime), `the unrelated server was stopped:\n${stop.stdout}${stop.stderr}`)
})

// A group whose leader exited, leaving one child; the child carries `tag` when given.
async function leaderlessGroup(
  home: TestHome,
  name: string,
  tag?: string,
): Promise<{ pgid: number; child: number; childStart: string }> {
  const pidFile = path.join(home.root, `${name}.pid`)
  const leader = spawnOwned(home, process.execPath, ['test/fixtures/group-leaver.mjs'], {
    env: { CHILD_PID_FILE: pidFile, ...(tag ? { CHILD_ENV_TAG: tag } : {}) },
  })
  const child = await waitFor(
    () => fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, 'utf8')),
    10_000,
    `${name}'s child`,
  )
  await waitFor(() => pidGone(leader.pid!), 10_000, `${name}'s leader to exit`)
  assert.equal(procStat(child)!.pgrp, leader.pid)
  return { pgid: leader.pid!, child, childStart: procStat(child)!.startTime }
}

test('a recorded group whose leader is gone: only members carrying the run tag are signalled', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  await startOk(home, config)
  const runId = home.state()!.runId
  const foreign = await leaderlessGroup(home, 'foreign')
  const ours = await leaderlessGroup(home, 'ours', `${runId}/web-1`)
  // As if web-0 and web-1 had died unwatched and their pids had been reused by those two leaders.
  const record = (id: string, pgid: number): RecordedProcess => ({
    ...home.record('web-0'),
    id,
    pid: pgid,
    pgid,
    startTime: '12345',
  })
  const web = home.record('web-0')
  await killSupervisor(home)
  editState(home, (s) => s.processes.push(record('web-1', ours.pgid), record('web-2', foreign.pgid)))
  await stopOk(home)

  assert.ok(pidGone(web.pid, web.startTime))
  assert.ok(pidGone(ours.child, ours.childStart), 'the tagged member of a leaderless group was left running')
  assert.ok(pidAlive(foreign.child, foreign.childStart), 'a leaderless group without the run tag was signalled')
  assert.deepEqual(groupMembers(foreign.pgid), [foreign.child])
})

function notePaused(home: TestHome, groups: number[]): void {
  const file = path.join(home.root, 'run', 'log-offsets.json')
  const offsets = JSON.parse(fs.readFileSync(file, 'utf8'))
  fs.writeFileSync(file, JSON.stringify({ ...offsets, paused: groups }))
}

const stopped = (pid: number) => procStat(pid)?.state === 'T'

test('groups noted as paused in log-offsets.json are resumed only when they are recorded processes of the stack', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  await startOk(home, config)
  const frozen = spawnOwned(home, 'sleep', ['1000'])
  process.kill(-frozen.pid!, 'SIGSTOP')
  await waitFor(() => stopped(frozen.pid!), 10_000, 'the unrelated group to stop')

  // A supervisor killed mid-rotation left web-0 paused; the note also names an unrelated stopped group.
  await killSupervisor(home)
  const web = home.record('web-0')
  process.kill(-web.pgid, 'SIGSTOP')
  await waitFor(() => stopped(web.pid), 10_000, 'web-0 to stop')
  notePaused(home, [frozen.pid!, web.pgid])
  await startOk(home, config)
  assert.equal(home.record('web-0').pid, web.pid, 'web-0 was not adopted')
  await waitFor(() => !stopped(web.pid), 10_000, 'the recorded group to be resumed')
  assert.ok(stopped(frozen.pid!), 'a re-adopting start resumed an unrelated group')

  await killSupervisor(home)
  notePaused(home, [frozen.pid!])
  await stopOk(home)
  assert.ok(stopped(frozen.pid!), 'stop resumed an unrelated group')
  assert.ok(pidGone(web.pid, web.startTime))
})

async function nginxOr(t: { skip(msg: string): void }, home: TestHome): Promise<boolean> {
  const check = await home.cli(['check-nginx'])
  if (check.code !== 0) t.skip(`no usable nginx ("check-nginx" exit ${check.code})`)
  return check.code === 0
}

// Live processes of this home's stack: carrying its run tag, or an nginx running its config (nginx overwrites its environment).
function leftovers(home: TestHome, runId: string): string[] {
  const conf = path.join(home.root, 'run', 'nginx.conf')
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => pid !== process.pid && pidAlive(pid))
    .filter(
      (pid) =>
        (environValue(pid, 'BACKEND_MANAGER_RUN') ?? '').startsWith(`${runId}/`) || commandLine(pid).includes(conf),
    )
    .map((pid) => `${pid} ${commandLine(pid)}`)
}

async function portsFree(ports: number[]): Promise<void> {
  for (const port of ports) assert.equal(await listening(port), false, `port ${port} still accepts connections`)
}

test('stop finds what the state file does not record: an unrecorded nginx and a tagged server, and checks every port', async (t) => {
  const home = useHome(t)
  if (!(await nginxOr(t, home))) return
  const base = await freePorts(2)
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: base + 1 },
    servers: [fixtureServer('web', 'http-server.mjs', base)],
  })
  await startOk(home, config)
  const runId = home.state()!.runId
  const nginx = home.record('nginx')
  // As a start killed between spawning them and recording them leaves the state file.
  await killSupervisor(home)
  editState(home, (s) => (s.processes = []))
  const r = await stopOk(home)
  assert.ok(pidGone(nginx.pid, nginx.startTime), `the unrecorded nginx survived: ${r.stdout}`)
  assert.deepEqual(leftovers(home, runId), [])
  await portsFree([base, base + 1])
  assert.equal(fs.existsSync(home.statePath), false)
})

test('stop also stops a supervisor of the run that the state file does not record, before it restarts what stop ends', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port, { restart: 'always' })] })
  await startOk(home, config)
  await waitFor(
    () => home.readLog('supervisor.log').includes('all processes ready'),
    30_000,
    'the supervisor to take over',
  )
  const { runId, supervisor } = home.state()!
  // As a start killed right after spawning its supervisor, before recording it, leaves the state file.
  editState(home, (s) => (s.supervisor = { pid: 0, startTime: '' }))
  await stopOk(home)
  assert.ok(pidGone(supervisor.pid, supervisor.startTime), 'the unrecorded supervisor is still running')
  assert.deepEqual(leftovers(home, runId), [])
  await portsFree([port])
})

test('a start killed with SIGKILL at any point: stop leaves no process of the stack and every port free', async (t) => {
  const home = useHome(t)
  if (!(await nginxOr(t, home))) return
  const base = await freePorts(3)
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: base + 2 },
    servers: [
      fixtureServer('web', 'http-server.mjs', base),
      fixtureServer('api', 'http-server.mjs', base + 1, { modules: ['api'], depends_on: ['web'] }),
    ],
  })
  for (const delayMs of [0, 5, 20, 60, 150]) {
    const start = home.spawnCli(['start', config])
    // Polled as fast as the state file can be read: the kill lands right after nginx is spawned, or a little later.
    const runId = await waitFor(
      () => home.state()?.processes.some((p) => p.kind === 'proxy' && p.pid > 0) && home.state()!.runId,
      60_000,
      'nginx to be spawned',
    )
    await new Promise((resolve) => setTimeout(resolve, delayMs))
    try {
      process.kill(start.child.pid!, 'SIGKILL')
    } catch {
      // It had finished.
    }
    await start.done
    await stopOk(home)
    await waitFor(
      () => leftovers(home, runId).length === 0,
      5000,
      `no process of the stack after a start killed ${delayMs} ms after nginx was spawned`,
    ).catch(() => assert.deepEqual(leftovers(home, runId), [], `killed ${delayMs} ms after nginx was spawned`))
    await portsFree([base, base + 1, base + 2])
  }
})

test('a damaged state file: stop says to use --force, and stop --force stops every process of the stack', async (t) => {
  const home = useHome(t)
  if (!(await nginxOr(t, home))) return
  const base = await freePorts(4)
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: base + 2 },
    servers: [
      fixtureServer('web', 'http-server.mjs', base),
      // Deaf to SIGTERM: only the SIGKILL after the timeout ends it.
      fixtureServer('deaf', 'stubborn.mjs', base + 1, { modules: ['deaf'] }),
      fixtureServer('escaper', 'escaper.mjs', base + 3, { behind_proxy: false }),
    ],
  })
  await startOk(home, config)
  const state = home.state()!
  const escaped = await waitFor(
    () => Number(/escaped child pid (\d+)/.exec(home.readLog('escaper-0.log'))?.[1]),
    10_000,
    'the escaped child',
  )
  const pids = [state.supervisor.pid, escaped, ...state.processes.map((p) => p.pid)]
  // The supervisor has read the state file and taken over (it would not start on a damaged one).
  await waitFor(
    () => home.readLog('supervisor.log').includes('all processes ready'),
    30_000,
    'the supervisor to take over',
  )
  fs.writeFileSync(home.statePath, '{"version": 1, "processes": [')

  const refused = await home.cli(['stop'])
  assert.equal(refused.code, 2, refused.stdout + refused.stderr)
  assert.match(refused.stderr, /not valid JSON.*stop --force/)
  assert.deepEqual(
    pids.filter((pid) => pidGone(pid)),
    [],
    'a refused stop signalled something',
  )

  const forced = await home.cli(['stop', '--force'])
  assert.equal(forced.code, 0, forced.stdout + forced.stderr)
  assert.match(forced.stdout, /stopped \d+ processes found by their environment/)
  for (const pid of pids) assert.ok(pidGone(pid), `pid ${pid} survived stop --force:\n${forced.stdout}${forced.stderr}`)
  assert.deepEqual(leftovers(home, state.runId), [])
  await portsFree([base, base + 1, base + 2, base + 3])
  assert.equal(fs.existsSync(home.statePath), false, 'the damaged state file is still there')
})

test('a process adopted while still starting is checked for readiness before its dependents start', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [
      fixtureServer('slow', 'stubborn.mjs', base, { ready_timeout: 60, env: { LISTEN_DELAY_MS: '4000' } }),
      fixtureServer('after', 'dependent.mjs', base + 1, { depends_on: ['slow'], env: { DEP_PORT: String(base) } }),
    ],
  })
  const r = await home.cli(['start', config, '--no-wait'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  // The supervisor dies while slow-0 is spawned but not listening yet.
  const slow = await waitFor(
    () => home.state()?.processes.find((p) => p.id === 'slow-0' && p.pid > 0 && p.state === 'starting'),
    30_000,
    'slow-0 to be spawned',
  )
  await killSupervisor(home)
  assert.equal(
    await listening(base),
    false,
    'slow-0 was ready before its supervisor was killed; the test needs a slower LISTEN_DELAY_MS',
  )

  const adopted = await startOk(home, config)
  assert.match(adopted.stdout, /adopted\s+slow-0/)
  assert.equal(home.record('slow-0').pid, slow.pid)
  assert.match(home.readLog('after-0.log'), /dependency was ready/)
  assert.equal(home.record('slow-0').state, 'running')
  await stopOk(home)
})

test('a server stopped by SIGSTOP shows "stopped (signal)" and stop ends it with SIGTERM, not after its stop_timeout', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({
    servers: [
      fixtureServer('web', 'http-server.mjs', base, { stop_timeout: 3 }),
      fixtureServer('other', 'http-server.mjs', base + 1),
    ],
  })
  await startOk(home, config)
  const web = home.record('web-0')
  process.kill(web.pid, 'SIGSTOP')
  await waitFor(() => stopped(web.pid), 10_000, 'web-0 to stop')

  const status = await home.cli(['status', '--json'])
  assert.equal(status.code, 1, status.stdout + status.stderr)
  const rows = JSON.parse(status.stdout).processes.map((p: { id: string; state: string; healthy: boolean }) => [
    p.id,
    p.state,
    p.healthy,
  ])
  assert.deepEqual(rows.slice(1), [
    ['web-0', 'stopped (signal)', false],
    ['other-0', 'running', true],
  ])

  const r = await stopOk(home)
  assert.doesNotMatch(
    r.stderr,
    /killed after stop_timeout/,
    'the stopped server needed SIGKILL: SIGTERM never reached it',
  )
  // It shut down by its own SIGTERM handler (exit code 0 after closing its server).
  assert.ok(pidGone(web.pid, web.startTime))
  await portsFree([base, base + 1])
})

test('a port held only by a connection in TIME_WAIT (the server closed first) does not refuse a start', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  // A server on the port answers one connection and closes it first: its end stays in TIME_WAIT for a minute.
  const server = net.createServer((socket) => socket.end())
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  await new Promise<void>((resolve) => {
    const client = net.connect(port, '127.0.0.1')
    client
      .on('end', () => client.end())
      .on('close', () => resolve())
      .resume()
  })
  await new Promise<void>((resolve) => server.close(() => resolve()))
  assert.ok(timeWait(port), 'no TIME_WAIT entry on the port')
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', port)] })
  await startOk(home, config)
  await stopOk(home)
})

function timeWait(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const cols = line.trim().split(/\s+/)
      return cols[1]?.endsWith(`:${hex}`) && cols[3] === '06'
    })
}
