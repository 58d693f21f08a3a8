// Keeps a plan's processes running: spawns each into its own process group, watches it (a child, or an adopted
// process by pid and start time), restarts it as its policy says, and records every change in the state file.
import fs from 'node:fs'
import type { ChildProcess } from 'node:child_process'
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import type { ProxyProcess } from '../proxy/contract.ts'
import { fileSize, stderrLogPath, writeFailure } from '../logs/paths.ts'
import { tailLines } from '../logs/tail.ts'
import { UnifiedLog } from '../logs/unified.ts'
import type { Plan, ProcessSpec } from '../config/plan.ts'
import { isSameProcess, startTimeOf } from '../os/platform.ts'
import { signalGroup, spawnManaged } from '../os/process-groups.ts'
import { waitReady } from '../probe/readiness.ts'
import { decideAfterExit } from './restart-policy.ts'
import { describeExit, readState, writeState, type StackState } from './state.ts'
import type { ProcessRecord } from '../os/process-record.ts'
import { describeEvent, EventLog, type NewEvent } from './events.ts'
import type { StartFailure } from './last-failure.ts'
import { endTask } from './tasks.ts'

// How much of a process's log a failed start shows.
const TAIL_LINES = 20

const ADOPTED_POLL_MS = 1000

export type ProgressEvent =
  | { type: 'spawned'; id: string; pid: number }
  | { type: 'adopted'; id: string; pid: number }
  | { type: 'ready'; id: string; pid: number; port?: number; ms: number; detail: string }
  | { type: 'waiting'; id: string; ms: number; reason: string }
  | { type: 'restarting'; id: string; reason: string; delayMs: number }
  | { type: 'crashed'; id: string; reason: string }

export interface StackOptions {
  home: Home
  plan: Plan
  env: NodeJS.ProcessEnv
  runId: string
  proxy?: ProxyProcess
  // A state left by an earlier supervisor: its live processes are adopted, not started again.
  previous?: StackState
  progress?: (event: ProgressEvent) => void
  log?: (line: string) => void
}

export interface Managed {
  spec: ProcessSpec
  kind: 'server' | 'proxy'
  record: ProcessRecord
  child?: ChildProcess
  exitReason?: string
  unstable: number
  // Stopped on purpose (a restart, a scale down, a removal): its exit is said, but nothing restarts it.
  retiring?: boolean
  // The log file's size when this process was spawned: what a failure shows starts here.
  logFrom?: number
}

export abstract class Supervision {
  readonly state: StackState
  protected readonly managed: Managed[] = []
  protected readonly unified: UnifiedLog
  protected timers: NodeJS.Timeout[] = []
  private adoptedTimer?: NodeJS.Timeout
  protected stopping = false
  private closed = false
  protected firstError?: BackendManagerError
  // Every spawn, ready, exit, restart, crash and reload: a `supervisor` line in the unified log, and for subscribers.
  readonly events: EventLog

  constructor(protected readonly opts: StackOptions) {
    const procs = [...opts.plan.processes]
    this.state = {
      version: 1,
      runId: opts.runId,
      phase: 'starting',
      startedAt: opts.previous?.startedAt ?? Date.now(),
      supervisor: { pid: process.pid, startTime: startTimeOf(process.pid) ?? 'unknown' },
      plan: opts.plan,
      ports: stackPorts(opts.plan, opts.proxy),
      // What an earlier supervisor recorded stays listed while it is adopted, so `status` never sees a
      // stack with processes missing; each entry is replaced as its process is adopted or started.
      processes: (opts.previous?.processes ?? []).filter(
        (p) => procs.some((s) => s.id === p.id) || (p.kind === 'proxy' && p.id === opts.proxy?.spec.id),
      ),
    }
    fs.mkdirSync(opts.home.logs, { recursive: true })
    this.unified = new UnifiedLog(opts.home, opts.plan.logs, opts.log, () => recordedRun(opts.home))
    this.events = new EventLog(Date.now, undefined, opts.log)
    this.events.subscribe((e) => {
      // After the lines the process printed so far; after close the unified log is another writer's.
      if (!this.closed) this.unified.say(describeEvent(e), this.managed.find((m) => m.spec.id === e.id)?.record.logFile)
    })
  }

  protected emit(event: NewEvent): void {
    this.events.emit(event)
  }

  protected record(record: ProcessRecord): void {
    const at = this.state.processes.findIndex((p) => p.id === record.id)
    if (at >= 0) this.state.processes[at] = record
    else this.state.processes.push(record)
  }

  protected spawn(m: Managed): void {
    m.exitReason = undefined
    // An earlier process's unfinished last line (it died unwatched) stays a line of its own.
    this.unified.flush(m.record.logFile)
    m.logFrom = fileSize(m.record.logFile)
    const { child, pid, startTime } = spawnManaged(
      {
        argv: m.spec.argv,
        cwd: m.spec.cwd,
        env: m.spec.env,
        logFile: m.record.logFile,
        stderrFile: this.stderrFile(m),
        runTag: `${this.state.runId}/${m.spec.id}`,
        home: this.opts.home.root,
      },
      this.opts.env,
    )
    m.child = child
    Object.assign(m.record, {
      pid,
      pgid: pid,
      startTime,
      startedAt: Date.now(),
      lastExit: undefined,
      adopted: undefined,
    })
    // Only this child's end: a replacement may already run when an old child's exit arrives.
    child.once('error', (error) => m.child === child && this.onExit(m, `could not start: ${error.message}`))
    child.once(
      'exit',
      (code, signal) =>
        m.child === child && this.onExit(m, describeExit(code, signal), code ?? undefined, signal ?? undefined),
    )
    this.save()
    this.emit({ kind: 'spawn', id: m.spec.id, pid, port: m.spec.port })
    this.opts.progress?.({ type: 'spawned', id: m.spec.id, pid })
  }

  // Servers get a raw stderr file of their own; nginx writes its errors to its one log file.
  protected stderrFile(m: Managed): string | undefined {
    return m.kind === 'server' ? stderrLogPath(this.opts.home, m.spec.id) : undefined
  }

  // Processes adopted from an earlier supervisor are not our children (no exit event): looked at by pid and start
  // time every ADOPTED_POLL_MS, only while any of them is still watched.
  protected watchAdopted(): void {
    if (this.adoptedTimer) return
    const timer = setInterval(() => {
      if (this.pollAdopted()) return
      clearInterval(timer)
      this.timers = this.timers.filter((t) => t !== timer)
      this.adoptedTimer = undefined
    }, ADOPTED_POLL_MS)
    this.adoptedTimer = timer
    this.timers.push(timer)
  }

  // Whether any adopted process is still watched after this look.
  protected pollAdopted(): boolean {
    const adopted = this.managed.filter((m) => !m.child && m.record.pid > 0 && m.exitReason === undefined)
    for (const m of adopted)
      if (!isSameProcess(m.record.pid, m.record.startTime))
        this.onExit(m, 'exited (exit status unknown: started by an earlier supervisor)')
    return adopted.some((m) => m.exitReason === undefined)
  }

  private onExit(m: Managed, reason: string, code?: number, signal?: string): void {
    if (m.exitReason !== undefined) return
    m.exitReason = reason
    m.record.lastExit = reason
    // After close the state file is no longer ours (handed over, or removed by a finished stop), nor is the log.
    if (this.closed) return
    this.unified.flush(m.record.logFile)
    this.emit({ kind: 'exit', id: m.spec.id, pid: m.record.pid, code, signal, reason })
    // Paused on purpose (SIGSTOP) and then killed: its restart policy does not apply, as for a stop; nor to a task.
    if (this.stopping || m.retiring || m.spec.task || m.record.state === 'starting' || m.record.state === 'paused') {
      m.record.state = 'stopped'
      if (m.spec.task && !this.stopping && !m.retiring) this.emit(endTask(m.record, reason, code))
      return this.save()
    }
    const decision = decideAfterExit({
      policy: m.spec.restart,
      maxRestarts: m.spec.maxRestarts,
      reason,
      uptimeMs: Date.now() - m.record.startedAt,
      unstable: m.unstable,
    })
    m.unstable = decision.unstable
    m.record.state = decision.state
    m.record.lastExit = decision.lastExit
    if (decision.state === 'restarting') {
      const restart = { delayMs: decision.delayMs, attempt: decision.unstable, maxRestarts: m.spec.maxRestarts }
      this.emit({ kind: 'restart', id: m.spec.id, reason, ...restart })
      this.opts.progress?.({ type: 'restarting', id: m.spec.id, reason, delayMs: decision.delayMs })
      // Dropped from the list when it fires, so a long crash-looping session does not pile timers up.
      const died = m.record.pid
      const timer = setTimeout(() => {
        this.timers = this.timers.filter((t) => t !== timer)
        // A command (restart, scale down, pause) may have dealt with it meanwhile: then this restart is stale.
        if (m.record.pid === died && !m.retiring) void this.respawn(m)
      }, decision.delayMs)
      this.timers.push(timer)
    }
    if (m.record.state === 'crashed') {
      this.emit({ kind: 'crash', id: m.spec.id, reason: m.record.lastExit! })
      this.opts.progress?.({ type: 'crashed', id: m.spec.id, reason: m.record.lastExit! })
    }
    this.save()
  }

  private async respawn(m: Managed): Promise<void> {
    if (this.stopping) return
    // Whatever the dead leader left in its group would hold the port or duplicate work.
    signalGroup(m.record, 'SIGKILL', this.state.runId)
    m.record.restarts++
    this.spawn(m)
    const result = await waitReady(
      m.spec.readiness,
      m.spec.host,
      m.spec.port,
      m.spec.readyTimeoutMs,
      () => m.exitReason ?? (this.stopping ? 'stopping' : undefined),
    )
    if (this.stopping || m.exitReason !== undefined) return
    if (result.ok) this.markReady(m, result.detail)
    else {
      this.opts.log?.(`${m.spec.id}: ${result.detail}; killing it to restart`)
      signalGroup(m.record, 'SIGKILL', this.state.runId)
    }
  }

  // Running from now on: recorded, and said with the time since its spawn.
  protected markReady(m: Managed, detail: string): void {
    m.record.state = 'running'
    this.save()
    const { pid, startedAt } = m.record
    this.emit({ kind: 'ready', id: m.spec.id, pid, port: m.spec.port, ms: Date.now() - startedAt, detail })
  }

  // Why it did not become ready, with its last lines from this run (lines an earlier run left would mislead).
  protected startFailure(m: Managed, reason: string): StartFailure {
    const logFile = m.record.logFile
    return { id: m.spec.id, reason, logFile, lines: tailLines(logFile, TAIL_LINES, m.logFrom ?? 0), task: m.spec.task }
  }

  // logs clean, asked over the control socket: done between two reads of the unified log.
  cleanLogs(): number {
    return this.unified.clean()
  }

  // Stop watching: used on handover to a detached supervisor and on stop.
  close(): void {
    this.stopping = true
    this.closed = true
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const m of this.managed) m.child?.unref()
    this.unified.close()
  }

  // Ends a bring-up in progress (Ctrl+C during start): every wait fails with this reason.
  abort(reason: string): void {
    this.firstError ??= new BackendManagerError('START_FAILED', reason)
  }

  save(): void {
    try {
      writeState(this.opts.home, this.state)
    } catch (error) {
      // A full disk: a bring-up that started processes it cannot record stops at once; adopting or running, it keeps going.
      const why = `cannot write ${this.opts.home.state}: ${writeFailure(error)}`
      if (this.state.phase === 'starting' && this.managed.some((m) => m.child))
        this.abort(`start failed: ${why}; free some space on that disk and start again`)
      this.opts.log?.(why)
    }
  }
}

// Every port the stack holds: its servers' and its proxy's.
export function stackPorts(plan: Plan, proxy: ProxyProcess | undefined): number[] {
  return [
    ...plan.processes.flatMap((p) => (p.port === undefined ? [] : [p.port])),
    ...(proxy?.spec.port ? [proxy.spec.port] : []),
  ]
}

// The state file's run, for resuming groups a dead writer left paused; a damaged file verifies nothing.
function recordedRun(home: Home): StackState | undefined {
  try {
    return readState(home)
  } catch {
    return undefined
  }
}
