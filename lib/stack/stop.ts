// Stopping a stack, even from a damaged state file; apart from start, so `stop` loads only what it needs.
import path from 'node:path'
import type { Home } from '../core/home.ts'
import { acquireLockIfWritable } from '../os/lock.ts'
import { offsetsPath } from '../logs/paths.ts'
import { proxyListeners, specOf } from '../config/plan.ts'
import { waitReleased, type Endpoint } from '../os/ports.ts'
import { escapedProcesses, killPid, signalGroup, waitGone } from '../os/process-groups.ts'
import { commandLine, environValue, everyProcess, processTable, startedWith } from '../os/platform.ts'
import type { ProcStat } from '../os/procfs.ts'
import { listeningPortsOf } from '../os/procfs-net.ts'
import { resumePaused } from '../logs/rotate.ts'
import { cannotWrite, removeFile } from '../core/safe-files.ts'
import { sleep } from '../core/sleep.ts'
import { plural } from '../core/words.ts'
import { BackendManagerError } from '../core/errors.ts'
import { readState, removeState, supervisorAlive, type StackState } from './state.ts'
import { HOME_ENV, RUN_ENV, supervisorTag, type ProcessRecord } from '../os/process-record.ts'
import { unregisterStack } from './registry.ts'
import { stopProcesses, stopTargets, type StopReport, type StopTarget } from '../os/terminate.ts'
import type { AfterStopResult } from './after-stop.ts'

// Tells a live supervisor to stop restarting, and waits (briefly) until it says so in the state file.
export async function quietSupervisor(
  home: Home,
  state: StackState,
  signal: 'SIGTERM' | 'SIGUSR2',
): Promise<StackState> {
  if (!supervisorAlive(state)) return state
  process.kill(state.supervisor.pid, signal)
  const deadline = Date.now() + 1000
  while (Date.now() < deadline) {
    const now = readState(home)
    if (!now || now.phase === 'stopping' || !supervisorAlive(state)) return now ?? state
    await sleep(1)
  }
  return readState(home) ?? state
}

export async function waitSupervisorExit(state: StackState): Promise<void> {
  const deadline = Date.now() + 2000
  while (supervisorAlive(state) && Date.now() < deadline) await sleep(5)
  if (supervisorAlive(state)) process.kill(state.supervisor.pid, 'SIGKILL')
}

export function targetsOf(state: StackState, servers?: Set<string>): StopTarget[] {
  return stopTargets(
    state.processes.filter((r) => !servers || servers.has(r.server)),
    (r) => (r.kind === 'proxy' ? { host: state.plan.proxy.host } : specOf(state.plan, r.id)),
  )
}

// Every port the stack may hold: what the state lists, the plan's servers and every port of the proxy.
export function stackEndpoints(state: StackState): Endpoint[] {
  const plan = state.plan
  const { http, grpc } = proxyListeners(plan.proxy, plan.upstreams ?? [])
  const proxy = [http, grpc, plan.proxy.type === 'envoy' ? plan.proxy.admin_port : undefined]
  const hostOf = (port: number) => plan.processes.find((p) => p.port === port)?.host ?? plan.proxy.host
  const ports = new Set(
    [...(state.ports ?? []), ...plan.processes.map((p) => p.port), ...proxy].filter(
      (p): p is number => typeof p === 'number',
    ),
  )
  return [...ports].map((port) => ({ port, host: hostOf(port) }))
}

// Supervisors of this run other than the recorded one (a start killed before it recorded the one it
// spawned): they would start again what is being stopped. SIGKILL is safe: the servers do not depend on them.
async function stopStraySupervisors(state: StackState): Promise<void> {
  const stray = escapedProcesses(state.runId, new Set(), processTable()).filter(
    (e) => e.tag === supervisorTag(state.runId) && e.stat.pid !== state.supervisor.pid,
  )
  for (const s of stray) killPid(s.stat.pid, 'SIGKILL')
  await waitGone(
    stray.map((s) => s.stat),
    2000,
    5,
  )
}

// An nginx master (its group's leader) running this config file.
function runsConfig(p: ProcStat, conf: string): boolean {
  return p.comm === 'nginx' && p.pid === p.pgrp && startedWith(p.pid, '-c', conf) === true
}

// An nginx the records do not name (started by a start killed before it recorded it): nginx overwrites its
// environment with its title, so it is found by this home's config file on its command line instead.
function unrecordedProxies(home: Home, state: StackState, table: ProcStat[]): StopTarget[] {
  const conf = path.resolve(home.nginxConf)
  const known = new Set(state.processes.map((p) => p.pgid))
  const records = table
    .filter((p) => !known.has(p.pgrp) && runsConfig(p, conf))
    .map((p): ProcessRecord => ({
      id: `nginx (pid ${p.pid}, not recorded)`,
      kind: 'proxy',
      server: 'nginx',
      pid: p.pid,
      pgid: p.pgrp,
      startTime: p.startTime,
      startedAt: 0,
      state: 'running',
      restarts: 0,
      logFile: '',
    }))
  return stopTargets(records, () => undefined)
}

export interface StopResult {
  wasRunning: boolean
  report?: StopReport
  ms: number
  // How the after_stop commands went, when the config has some and the stop was complete.
  afterStop?: AfterStopResult
  // Why the stack stopped itself (on_failure: stop-all), when it did.
  stoppedBecause?: string
}

// stop: works with or without a live supervisor; the state is removed only once everything is gone.
export interface StopIO {
  home: Home
  env?: NodeJS.ProcessEnv
  notice?: (line: string) => void
}

export interface ForceStopResult {
  // Why the state file could not be used, when it could not.
  damaged?: string
  // What the normal stop did first, when the state file could be read.
  recorded?: StopResult
  // Found by their environment (or, for nginx, by this home's config on the command line).
  stopped: string[]
  killed: string[]
  survivors: string[]
  ms: number
}

const FORCE_TIMEOUT_MS = 5000

const describe = (p: ProcStat) => `pid ${p.pid} (${commandLine(p.pid)})`

// Every process of this home's stack, found without the state file: the home in its environment, or an nginx on its config.
export function homeProcesses(home: Home, table: ProcStat[]): ProcStat[] {
  const conf = path.resolve(home.nginxConf)
  return table.filter(
    (p) => p.pid !== process.pid && (environValue(p.pid, HOME_ENV) === home.root || runsConfig(p, conf)),
  )
}

// stop --force: stops the stack even when its state file is damaged, finding its processes by the home in their
// environment: supervisors first (told to leave everything running), then everything else, SIGTERM then SIGKILL.
export async function forceStop(io: StopIO, onWait?: (what: string) => void): Promise<ForceStopResult> {
  const started = Date.now()
  const lock = acquireLockIfWritable(io.home, 'stop --force', io.notice ?? (() => {}))
  try {
    const result: ForceStopResult = { stopped: [], killed: [], survivors: [], ms: 0 }
    try {
      result.recorded = await stopRecorded(io, onWait)
    } catch (error) {
      if (!(error instanceof BackendManagerError) || error.code !== 'STATE') throw error
      result.damaged = error.message
    }
    const isSupervisor = (p: ProcStat) => /\/supervisor$/.test(environValue(p.pid, RUN_ENV) ?? '')
    const supervisors = homeProcesses(io.home, everyProcess('stop --force')).filter(isSupervisor)
    for (const s of supervisors) killPid(s.pid, 'SIGUSR2')
    for (const s of await waitGone(supervisors, 2000)) killPid(s.pid, 'SIGKILL')
    const found = homeProcesses(io.home, processTable())
    const ports = listeningPortsOf(found.map((p) => p.pid))
    const conf = path.resolve(io.home.nginxConf)
    for (const p of found) {
      // An nginx master takes its workers along: they overwrote their environment too.
      const nginx = runsConfig(p, conf)
      for (const sig of ['SIGTERM', 'SIGCONT'] as const) {
        if (nginx) signalGroup({ pid: p.pid, pgid: p.pgrp, startTime: p.startTime }, sig)
        else killPid(p.pid, sig)
      }
    }
    if (found.length) onWait?.(`${plural(found.length, 'process', 'processes')} of ${io.home.root} to exit`)
    const stubborn = await waitGone(found, FORCE_TIMEOUT_MS)
    for (const p of stubborn) killPid(p.pid, 'SIGKILL')
    const survivors = await waitGone(stubborn, 2000)
    result.stopped = [...supervisors, ...found].filter((p) => !survivors.includes(p)).map(describe)
    result.killed = stubborn.filter((p) => !survivors.includes(p)).map(describe)
    result.survivors = survivors.map((p) => `${describe(p)} still alive after SIGKILL`)
    const still = await waitReleased(
      ports.map((port) => ({ port, host: '127.0.0.1' })),
      2000,
    )
    result.survivors.push(...still.map((port) => `port ${port} still accepts connections`))
    if (result.survivors.length === 0) removeRunFiles(io)
    result.ms = Date.now() - started
    return result
  } finally {
    lock.release()
  }
}

// Once everything is gone: the state and what only a running stack needs; a read-only or full home is said, not fatal.
export function removeRunFiles(io: StopIO): void {
  try {
    removeState(io.home)
    removeFile(offsetsPath(io.home))
    removeFile(io.home.nginxPid)
  } catch (error) {
    if (!cannotWrite(error)) throw error
    io.notice?.(
      `everything is stopped, but ${(error as Error).message}; "status" will show the stack as stopped until the file is removed`,
    )
  }
  if (io.env) unregisterStack(io.home, io.env)
}

// What the state records, stopped (the lock is the caller's): the supervisor quieted, every group of the run
// stopped, its ports released; the run files go only once everything is gone.
export async function stopRecorded(io: StopIO, onWait?: (what: string) => void): Promise<StopResult> {
  const home = io.home
  const started = Date.now()
  const before = readState(home)
  if (!before) return { wasRunning: false, ms: Date.now() - started }
  const state = await quietSupervisor(home, before, 'SIGTERM')
  // A writer killed mid-rotation may have left a process group stopped; a stopped process ignores SIGTERM.
  resumePaused(home, state)
  await stopStraySupervisors(state)
  const stray = unrecordedProxies(home, state, processTable())
  const report = await stopProcesses([...targetsOf(state), ...stray], {
    runId: state.runId,
    onWait,
    wholeRun: true,
    ports: stackEndpoints(state),
  })
  await waitSupervisorExit(state)
  if (report.survivors.length === 0) removeRunFiles(io)
  return { wasRunning: true, report, ms: Date.now() - started }
}
