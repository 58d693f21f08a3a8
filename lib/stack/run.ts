// A run's story as a table of contents: start (lock, supervisor, preflight, bring up), supervise, restart, stop.
// Each step is one named function in the file that owns it; read this file first, then follow a step.
//
// The start side (the stack, the proxy and its installer) is imported only where a run starts, so that `stop`,
// which runs often, loads none of it and stays quick.
import fs from 'node:fs'
import type { Home } from '../core/home.ts'
import type { Plan } from '../config/plan.ts'
import { acquireLock, acquireLockIfWritable } from '../os/lock.ts'
import { readState, removeState, type StackState } from './state.ts'
import { stopRecorded, type StopResult } from './stop.ts'
import type { LifecycleIO } from './start.ts'
import type { RollingAnswer } from './restart-only.ts'

export interface RunIO extends LifecycleIO {
  // Said while a stop waits for a process or a port, so a slow stop is not a silent one.
  onWait?: (what: string) => void
}

export interface StartRequest {
  plan: Plan
  // Return once the supervisor is spawned; it brings everything up itself.
  noWait?: boolean
}

export interface StartResult {
  supervisorPid: number
  // Set when the stack already ran this very plan, so nothing was started: its phase.
  already?: StackState['phase']
}

// start: returns once every process is ready under a detached supervisor, which is the parent of every one of them.
export async function startStack(req: StartRequest, io: RunIO): Promise<StartResult> {
  const start = await import('./start.ts')
  const handover = await import('./handover.ts')
  // Preflight, part one: a (nearly) full disk fails now, before the lock, whose own write would fail first.
  start.checkFreeSpace(io.home)
  const lock = acquireLock(io.home, 'start')
  try {
    const current = readState(io.home)
    req = { ...req, plan: start.keepScale(req.plan, current) }
    const runId = current?.runId ?? start.newRunId()
    if (start.alreadyRunning(current, req.plan))
      return { supervisorPid: current.supervisor.pid, already: current.phase }
    if (req.noWait) {
      const previous = await start.preflight(io.home, req.plan, current, io.notice)
      return { supervisorPid: await handover.handOverUnstarted(req.plan, previous, io) }
    }
    // Spawn the supervisor now, so that its own start-up overlaps the checks; it waits until it is given the run.
    const supervisor = handover.spawnSupervisor(io.home, io.env, runId)
    let previous: StackState | undefined
    try {
      // Preflight: no other stack running here, what a changed config dropped is stopped, every port is free.
      previous = await start.preflight(io.home, req.plan, current, io.notice)
    } catch (error) {
      handover.cancelSupervisor(supervisor)
      throw error
    }
    // Bring up: the supervisor spawns the servers in dependency order, each until ready, then the proxy; this command
    // shows its progress. On failure it stops them all again; on Ctrl+C this command does.
    return { supervisorPid: await handover.bringUpDetached(supervisor, runId, req.plan, previous, io) }
  } finally {
    lock.release()
  }
}

export interface ForegroundView {
  // New lines of the unified log, as they are written.
  lines(lines: string[]): void
  ready(): void
  stopping(): void
}

// start --foreground: the same lock, preflight and bring-up; then this process supervises, showing the unified log,
// until Ctrl+C stops everything.
export async function startForeground(plan: Plan, io: RunIO, view: ForegroundView): Promise<StopResult> {
  const start = await import('./start.ts')
  const foreground = await import('./foreground.ts')
  start.checkFreeSpace(io.home)
  const lock = acquireLock(io.home, 'start --foreground')
  const log = foreground.followUnified(io.home, view.lines)
  const stopRequested = foreground.stopRequested()
  let stack: Awaited<ReturnType<typeof start.bringUpHere>>
  try {
    // The same checks as a detached start: never adopt a stack another supervisor watches, never start onto a busy port.
    const current = readState(io.home)
    plan = start.keepScale(plan, current)
    const previous = await start.preflight(io.home, plan, current, io.notice)
    stack = await start.bringUpHere(plan, io, previous)
  } finally {
    lock.release()
  }
  const failed = (await import('./failure-policy.ts')).stopAllSaid(stack.events)
  const { serveControl } = await import('./control-server.ts')
  const { controlRoutes } = await import('./control-routes.ts')
  const control = serveControl(io.home, controlRoutes(io.home, stack), io.notice ?? (() => {}))
  if (plan.watch) await (await import('./watch.ts')).watchStack(stack, io.home, io.notice ?? (() => {}))
  view.ready()
  log.show()
  // Ctrl+C, or (on_failure: stop-all) a process that failed for good: then this run ends with an error.
  const stoppedBecause = await Promise.race([stopRequested.then(() => undefined), failed])
  view.stopping()
  const started = Date.now()
  const report = await stack.stopAll({ onWait: io.onWait })
  control.close()
  const ms = Date.now() - started
  if (report.survivors.length === 0) removeState(io.home)
  // Before the terminal stops showing the unified log, so its output shows there too.
  const afterStop = report.survivors.length === 0 ? await runAfterStop(io, stack.plan) : undefined
  log.close()
  return { wasRunning: true, report, ms, stoppedBecause, afterStop }
}

// supervise: the detached supervisor waits until the state file gives it the run, adopts what an earlier supervisor
// left running and starts (as their parent) whatever is missing, telling a waiting start how it goes; then restarts
// crashed processes and writes the unified log until a stop (SIGTERM) or a handover (SIGUSR2, restart --only).
export async function superviseStack(home: Home, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<number> {
  const { takeOver, untilGivenTheRun } = await import('./supervise.ts')
  if (!(await untilGivenTheRun(home))) {
    log(`supervisor ${process.pid}: the start that spawned it ended before giving it a run; exiting`)
    return 0
  }
  const supervisor = takeOver(home, env, log)
  if (!supervisor || !(await supervisor.bringUp())) return 1
  const mode = await supervisor.untilTold()
  if (mode === 'stop') await supervisor.untilAllGone()
  // on_failure: stop-all: a process failed for good; the supervisor stops everything itself, then runs after_stop.
  if (mode === 'stop-all') await supervisor.stopEverything()
  supervisor.exit()
  return mode === 'stop-all' ? 1 : 0
}

// restart: stop (`stopped` is told how that went), then start; nothing is started while anything survived.
export async function restartStack(
  plan: Plan,
  io: RunIO,
  stopped: (result: StopResult) => void,
): Promise<StartResult | undefined> {
  // A restart is no end of the stack: after_stop does not run.
  const result = await stopStack(io, false)
  if (result.wasRunning) stopped(result)
  if (result.report?.survivors.length) return undefined
  return startStack({ plan }, io)
}

// restart on a stack whose live supervisor runs this very plan: the supervisor restarts the named servers or
// instances (every server when none are named) one instance at a time, each drained from nginx while another one
// serves; nginx is reloaded, never restarted. Undefined when it cannot (see canRestartLive): then stop and start.
// `targets` are server names here, whose config must not have changed.
// `progress` is told each thing the supervisor does meanwhile, as it happens.
// `targets`: server names or NAME-i instances (of `servers`), as the supervisor's restart route takes them.
export async function restartRolling(
  plan: Plan,
  servers: string[] | undefined,
  io: RunIO,
  progress?: (line: string) => void,
  targets = servers,
): Promise<RollingAnswer | undefined> {
  const { canRestartLive, restartLive } = await import('./restart-only.ts')
  if (!canRestartLive(io.home, plan, servers)) return undefined
  return restartLive(io.home, targets, progress)
}

// restart --only without a live supervisor to ask (or with another config): the supervisor hands its watch back and
// just those servers are stopped; a start adopts the rest.
export async function restartServers(plan: Plan, servers: string[], io: RunIO): Promise<StartResult> {
  const { stopOnly } = await import('./restart-only.ts')
  const lock = acquireLock(io.home, 'restart')
  try {
    await stopOnly(io.home, servers, io.onWait)
  } finally {
    lock.release()
  }
  return startStack({ plan }, io)
}

// stop: works with or without a live supervisor; quiets it, stops every process of the run (the proxy first, then
// the servers in reverse dependency order) until every port is released, and only then removes the state.
// Then (unless `afterStop` is false) the config's after_stop commands run.
export async function stopStack(io: RunIO, afterStop = true): Promise<StopResult> {
  const started = Date.now()
  // Where no stack ever ran, nothing is created (not even the lock's folder).
  if (!fs.existsSync(io.home.run)) return { wasRunning: false, ms: Date.now() - started }
  // A read-only or full home must not keep a running stack from being stopped.
  const lock = acquireLockIfWritable(io.home, 'stop', io.notice ?? (() => {}))
  let result: StopResult
  let plan: Plan | undefined
  try {
    plan = readState(io.home)?.plan
    result = await stopRecorded(io, io.onWait)
  } finally {
    lock.release()
  }
  if (afterStop && plan && result.report?.survivors.length === 0) result.afterStop = await runAfterStop(io, plan)
  return result
}

// after_stop, once a stop is complete: its commands in the config's folder (loaded only when there are some).
async function runAfterStop(io: Pick<RunIO, 'home' | 'env'>, plan: Pick<Plan, 'afterStop'>) {
  if (!plan.afterStop) return undefined
  const { runAfterStop } = await import('./after-stop.ts')
  return runAfterStop(io.home, plan.afterStop, io.env)
}
