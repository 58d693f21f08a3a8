import fs from 'node:fs'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { BackendManagerError } from './errors.ts'
import { packageRoot, type Home } from './home.ts'
import { acquireLock } from './lock.ts'
import { freeBytes } from './log-paths.ts'
import type { Plan, ProcessSpec } from './plan.ts'
import { busyPorts, describeBusy } from './ports.ts'
import { isSameProcess, startTimeOf } from './procfs.ts'
import { makeProxy, proxyPorts } from './proxy.ts'
import { readState, removeState, writeState, supervisorAlive, type ProcessRecord, type StackState } from './state.ts'
import { stopProcesses } from './stop.ts'
import { Stack, type ProgressEvent } from './supervisor.ts'
import { quietSupervisor, targetsOf, waitSupervisorExit } from './teardown.ts'

export interface LifecycleIO {
  home: Home
  env: NodeJS.ProcessEnv
  // Progress for humans; the commands decide how it looks.
  progress?: (event: ProgressEvent) => void
  notice?: (line: string) => void
}

export const newRunId = () => randomBytes(6).toString('hex')

function refuseIfRunning(home: Home, state: StackState | undefined): void {
  if (state && supervisorAlive(state))
    throw new BackendManagerError('START_FAILED', `a stack is already running from ${home.root} (supervisor pid ${state.supervisor.pid}, config ${state.plan.file}); use "restart" or "stop" first`)
}

// Less free than this on the home's disk: the servers' first output would fill it and the start would fail halfway.
const MIN_FREE_BYTES = 1 << 20

// Fails before anything is written or started when the disk holding the home is (nearly) full.
export function checkFreeSpace(home: Home): void {
  let dir = home.root
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir)
  const free = freeBytes(dir)
  if (free < MIN_FREE_BYTES)
    throw new BackendManagerError('START_FAILED', `${home.root}: no space left on its disk (${Math.floor(free / 1024)} KB free, start needs at least ${MIN_FREE_BYTES >> 10} KB for state and logs); free some space there (e.g. "backend-manager logs clean") and start again; nothing was started`)
}

// Every port the plan binds is free, except those held by processes this start will adopt.
async function checkPorts(plan: Plan, previous: StackState | undefined): Promise<void> {
  const live = (previous?.processes ?? []).filter((p) => p.port !== undefined && isSameProcess(p.pid, p.startTime))
  const adopted = new Set(live.map((p) => p.port!))
  // An adopted proxy holds all its ports (gRPC, Envoy admin), not only the one it is recorded with.
  const proxy = live.some((p) => p.kind === 'proxy') ? [] : proxyPorts(plan)
  const wanted = [
    ...plan.processes.flatMap((p) => (p.port === undefined ? [] : [{ port: p.port, host: p.host }])),
    ...proxy.map((port) => ({ port, host: plan.proxy.host })),
  ].filter((e) => !adopted.has(e.port))
  const busy = await busyPorts(wanted)
  if (busy.length) throw new BackendManagerError('PORT_BUSY', `${busy.map(describeBusy).join('\n')}\nnothing was started`)
}

// What a process was started as: if any of it changed in the config, the running one cannot be adopted.
const identity = (p: ProcessSpec | undefined) => p && JSON.stringify([p.argv, p.cwd, p.env, p.port, p.host])

// A start over a stack whose supervisor died adopts only what the new plan runs unchanged; whatever the
// config dropped or changed is stopped first, so it is neither orphaned nor left holding a port.
async function retireStale(plan: Plan, previous: StackState, notice?: (line: string) => void): Promise<StackState> {
  const wanted = new Map(plan.processes.map((p) => [p.id, p]))
  const before = new Map(previous.plan.processes.map((p) => [p.id, p]))
  const proxyKept = (['type', 'host', 'port', 'grpc_port', 'admin_port'] as const).every((k) => plan.proxy[k] === previous.plan.proxy[k])
  const keep = (r: ProcessRecord) => (r.kind === 'proxy' ? proxyKept : wanted.has(r.id) && identity(wanted.get(r.id)) === identity(before.get(r.id)))
  const stale = previous.processes.filter((r) => !keep(r) && isSameProcess(r.pid, r.startTime))
  if (stale.length === 0) return { ...previous, processes: previous.processes.filter(keep) }
  notice?.(`stopping what the config no longer runs as it was: ${stale.map((r) => r.id).join(', ')}`)
  const report = await stopProcesses(targetsOf({ ...previous, processes: stale }), { runId: previous.runId })
  if (report.survivors.length) throw new BackendManagerError('STOP_FAILED', `could not stop the previous stack's ${stale.map((r) => r.id).join(', ')}:\n${report.survivors.join('\n')}`)
  return { ...previous, processes: previous.processes.filter(keep) }
}

// What every start checks under the lock before it starts anything (detached or --foreground); returns
// the previous state to adopt from.
export async function preflight(home: Home, plan: Plan, previous: StackState | undefined, notice?: (line: string) => void): Promise<StackState | undefined> {
  checkFreeSpace(home)
  refuseIfRunning(home, previous)
  const adoptable = previous && (await retireStale(plan, previous, notice))
  await checkPorts(plan, adoptable)
  return adoptable
}

// Runs the whole start in this process; the caller then hands over to a detached supervisor or stays (--foreground).
export async function bringUpHere(plan: Plan, io: LifecycleIO, previous?: StackState): Promise<Stack> {
  const stack = new Stack({ home: io.home, plan, env: io.env, runId: previous?.runId ?? newRunId(), proxy: makeProxy(io.home, plan, io.env), previous, progress: io.progress, log: io.notice })
  // Ctrl+C (or a closed terminal) while waiting must not leave half a stack running with nobody watching it.
  const interrupt = () => stack.abort('start interrupted; nothing is left running')
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  for (const signal of signals) process.once(signal, interrupt)
  try {
    await stack.bringUp()
  } catch (error) {
    io.notice?.('stopping what was started')
    await stack.stopAll()
    removeState(io.home)
    throw error
  } finally {
    for (const signal of signals) process.off(signal, interrupt)
  }
  return stack
}

export function spawnSupervisor(home: Home, env: NodeJS.ProcessEnv): number {
  fs.mkdirSync(home.logs, { recursive: true })
  const out = fs.openSync(home.supervisorLog, 'a')
  const child = spawn(process.execPath, [path.join(packageRoot, 'bin', 'backend-manager.js'), '--home', home.root, 'supervise'], {
    detached: true,
    stdio: ['ignore', out, out],
    env,
    cwd: home.root,
  })
  fs.closeSync(out)
  child.unref()
  return child.pid!
}

export interface StartRequest {
  plan: Plan
  noWait?: boolean
}

// start: validate, lock, refuse a second stack, check ports, bring up, hand over to a detached supervisor.
export async function startDetached(req: StartRequest, io: LifecycleIO): Promise<{ supervisorPid: number }> {
  checkFreeSpace(io.home)
  const lock = acquireLock(io.home, 'start')
  try {
    const previous = await preflight(io.home, req.plan, readState(io.home), io.notice)
    if (req.noWait) {
      // A missing proxy binary (nginx, envoy) is reported now, not later by the background supervisor.
      makeProxy(io.home, req.plan, io.env)
      // The supervisor brings everything up itself, from the plan in the state file.
      const state: StackState = { ...(previous ?? emptyState(req.plan)), plan: req.plan, phase: 'starting', supervisor: { pid: 0, startTime: '' } }
      writeState(io.home, state)
      const pid = spawnSupervisor(io.home, io.env)
      // Recorded before the lock is released: a start or stop right after this one must see the supervisor at work.
      if (readState(io.home)?.supervisor.pid === 0) writeState(io.home, { ...state, supervisor: { pid, startTime: startTimeOf(pid) ?? 'unknown' } })
      return { supervisorPid: pid }
    }
    const stack = await bringUpHere(req.plan, io, previous)
    stack.close()
    const pid = spawnSupervisor(io.home, io.env)
    stack.state.supervisor = { pid, startTime: startTimeOf(pid) ?? 'unknown' }
    stack.save()
    return { supervisorPid: pid }
  } finally {
    lock.release()
  }
}

function emptyState(plan: Plan): StackState {
  return { version: 1, runId: newRunId(), phase: 'starting', startedAt: Date.now(), supervisor: { pid: 0, startTime: '' }, plan, ports: [], processes: [] }
}

// restart --only: hand the supervisor's watch over, stop just those servers, then start again adopting the rest.
export async function restartOnly(plan: Plan, servers: string[], io: LifecycleIO, onWait?: (what: string) => void): Promise<{ supervisorPid: number }> {
  const lock = acquireLock(io.home, 'restart')
  let state: StackState
  try {
    const before = readState(io.home)
    if (!before) throw new BackendManagerError('NOT_FOUND', `nothing is running from ${io.home.root}; use "start"`)
    state = await quietSupervisor(io.home, before, 'SIGUSR2')
    await waitSupervisorExit(state)
    const report = await stopProcesses(targetsOf(state, new Set(servers)), { runId: state.runId, onWait })
    if (report.survivors.length) throw new BackendManagerError('STOP_FAILED', `could not stop:\n${report.survivors.join('\n')}`)
    state = readState(io.home) ?? state
    state.processes = state.processes.filter((p) => !servers.includes(p.server))
    state.supervisor = { pid: 0, startTime: '' }
    writeState(io.home, state)
  } finally {
    lock.release()
  }
  return startDetached({ plan }, io)
}
