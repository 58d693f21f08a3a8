import fs from 'node:fs'
import type { ChildProcess } from 'node:child_process'
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import type { ProxyProcess } from '../proxy/contract.ts'
import { fileSize, processLogPath, stderrLogPath, writeFailure } from '../logs/paths.ts'
import { UnifiedLog } from '../logs/unified.ts'
import type { Plan, ProcessSpec } from '../config/plan.ts'
import { groupMembers, isRecordedProcess, isSameProcess, processTable, startTimeOf } from '../os/platform.ts'
import { signalGroup, spawnManaged } from '../os/process-groups.ts'
import { waitReady } from '../probe/readiness.ts'
import { decideAfterExit } from './restart-policy.ts'
import { describeExit, readState, writeState, type StackState } from './state.ts'
import type { ProcessRecord } from '../os/process-record.ts'
import { stopProcesses, stopTargets, type StopOptions, type StopReport } from '../os/terminate.ts'
import { tailLines } from '../logs/tail.ts'
import { describeStartFailure, type StartFailure } from './last-failure.ts'

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

interface Managed {
  spec: ProcessSpec
  kind: 'server' | 'proxy'
  record: ProcessRecord
  child?: ChildProcess
  exitReason?: string
  unstable: number
  // The log file's size when this process was spawned: what a failure shows starts here.
  logFrom?: number
}

const ADOPTED_POLL_MS = 200
const LOG_POLL_MS = 50
const TAIL_LINES = 20

export class Stack {
  readonly state: StackState
  private readonly managed: Managed[] = []
  private readonly unified: UnifiedLog
  private timers: NodeJS.Timeout[] = []
  private stopping = false
  private closed = false
  private firstError?: BackendManagerError
  // Which process failed the bring-up, why, and its last lines: kept for `status` after a background start.
  failed?: StartFailure

  constructor(private readonly opts: StackOptions) {
    const procs = [...opts.plan.processes]
    this.state = {
      version: 1,
      runId: opts.runId,
      phase: 'starting',
      startedAt: opts.previous?.startedAt ?? Date.now(),
      supervisor: { pid: process.pid, startTime: startTimeOf(process.pid) ?? 'unknown' },
      plan: opts.plan,
      ports: [
        ...procs.flatMap((p) => (p.port === undefined ? [] : [p.port])),
        ...(opts.proxy?.spec.port ? [opts.proxy.spec.port] : []),
      ],
      // What an earlier supervisor recorded stays listed while it is adopted, so `status` never sees a
      // stack with processes missing; each entry is replaced as its process is adopted or started.
      processes: (opts.previous?.processes ?? []).filter(
        (p) => procs.some((s) => s.id === p.id) || (p.kind === 'proxy' && p.id === opts.proxy?.spec.id),
      ),
    }
    fs.mkdirSync(opts.home.logs, { recursive: true })
    this.unified = new UnifiedLog(opts.home, opts.plan.logs, opts.log, () => recordedRun(opts.home))
  }

  // Starts (or adopts) every server once its dependencies are ready, then the proxy; throws on the first failure.
  async bringUp(): Promise<void> {
    this.timers.push(setInterval(() => this.unified.poll(), LOG_POLL_MS))
    this.timers.push(setInterval(() => this.pollAdopted(), ADOPTED_POLL_MS))
    const byServer = new Map<string, ProcessSpec[]>()
    for (const p of this.opts.plan.processes) byServer.set(p.server, [...(byServer.get(p.server) ?? []), p])
    const ready = new Map<string, Promise<void>>()
    for (const [server, specs] of byServer) {
      const deps = specs[0].dependsOn.map((d) => ready.get(d)).filter((p): p is Promise<void> => p !== undefined)
      ready.set(
        server,
        Promise.all(deps)
          .then(() => Promise.all(specs.map((s) => this.launch(s, 'server'))))
          .then(() => undefined),
      )
    }
    const results = await Promise.allSettled(ready.values())
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw this.firstError ?? failed.reason
    if (this.opts.proxy) {
      const { changed } = this.opts.proxy.prepare()
      await this.launch(this.opts.proxy.spec, 'proxy', changed)
    }
    // Aborted after the last wait succeeded: still a failed start, and the phase stays 'stopping'.
    if (this.firstError) throw this.firstError
    this.state.phase = 'running'
    this.save()
  }

  private async launch(spec: ProcessSpec, kind: 'server' | 'proxy', configChanged = false): Promise<void> {
    if (this.firstError) throw this.firstError
    const logFile = kind === 'proxy' ? this.opts.proxy!.logFile : processLogPath(this.opts.home, spec.id)
    const old = this.opts.previous?.processes.find((p) => p.id === spec.id)
    const m: Managed = {
      spec,
      kind,
      unstable: 0,
      record: {
        id: spec.id,
        kind,
        server: spec.server,
        port: spec.port,
        pid: 0,
        pgid: 0,
        startTime: '',
        startedAt: 0,
        state: 'starting',
        restarts: old?.restarts ?? 0,
        logFile,
      },
    }
    this.managed.push(m)
    this.unified.follow(spec.id, logFile, { stderrFile: this.stderrFile(m), group: () => m.record, fromEnd: !old })
    const started = Date.now()
    if (old && isRecordedProcess(old, this.state.runId)) {
      // Recorded before it was ready (its supervisor died during a --no-wait bring-up): checked like a new one.
      const unready = old.state === 'starting' || old.state === 'restarting'
      Object.assign(m.record, {
        pid: old.pid,
        pgid: old.pgid,
        startTime: old.startTime,
        startedAt: old.startedAt,
        state: unready ? 'starting' : 'running',
      })
      this.record(m.record)
      this.save()
      if (configChanged) this.opts.proxy?.reload(old.pid)
      this.opts.progress?.({ type: 'adopted', id: spec.id, pid: old.pid })
      if (!unready) return
    } else {
      this.record(m.record)
      this.spawn(m)
    }
    const aborted = () => m.exitReason ?? (this.firstError ? 'start aborted' : undefined)
    const waiting = (ms: number, reason: string) => this.opts.progress?.({ type: 'waiting', id: spec.id, ms, reason })
    const result = await waitReady(spec.readiness, spec.host, spec.port, spec.readyTimeoutMs, aborted, waiting)
    if (!result.ok) {
      // A failure elsewhere aborted this wait: report the first failure, not this echo of it.
      if (this.firstError) throw this.firstError
      this.firstError = this.failure(m, result.detail)
      throw this.firstError
    }
    m.record.state = 'running'
    this.save()
    this.opts.progress?.({
      type: 'ready',
      id: spec.id,
      pid: m.record.pid,
      port: spec.port,
      ms: Date.now() - started,
      detail: result.detail,
    })
  }

  private record(record: ProcessRecord): void {
    const at = this.state.processes.findIndex((p) => p.id === record.id)
    if (at >= 0) this.state.processes[at] = record
    else this.state.processes.push(record)
  }

  private failure(m: Managed, reason: string): BackendManagerError {
    const logFile = m.record.logFile
    // Only this run's output: lines an earlier run left in the same file would mislead.
    const lines = tailLines(logFile, TAIL_LINES, m.logFrom ?? 0)
    this.failed = { id: m.spec.id, reason, logFile, lines }
    return new BackendManagerError('START_FAILED', describeStartFailure(this.failed))
  }

  private spawn(m: Managed): void {
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
    Object.assign(m.record, { pid, pgid: pid, startTime, startedAt: Date.now(), lastExit: undefined })
    child.once('error', (error) => this.onExit(m, `could not start: ${error.message}`))
    child.once('exit', (code, signal) => this.onExit(m, describeExit(code, signal)))
    this.save()
    this.opts.progress?.({ type: 'spawned', id: m.spec.id, pid })
  }

  // Servers get a raw stderr file of their own; nginx writes its errors to its one log file.
  private stderrFile(m: Managed): string | undefined {
    return m.kind === 'server' ? stderrLogPath(this.opts.home, m.spec.id) : undefined
  }

  // Processes adopted from an earlier supervisor are not our children: watch them by pid and start time.
  private pollAdopted(): void {
    for (const m of this.managed) {
      if (
        !m.child &&
        m.record.pid > 0 &&
        m.exitReason === undefined &&
        !isSameProcess(m.record.pid, m.record.startTime)
      )
        this.onExit(m, 'exited (exit status unknown: started by an earlier supervisor)')
    }
  }

  private onExit(m: Managed, reason: string): void {
    if (m.exitReason !== undefined) return
    m.exitReason = reason
    m.record.lastExit = reason
    // After close the state file is no longer ours (handed over, or removed by a finished stop), nor is the log.
    if (this.closed) return
    this.unified.flush(m.record.logFile)
    if (this.stopping || m.record.state === 'starting') {
      m.record.state = 'stopped'
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
      this.opts.progress?.({ type: 'restarting', id: m.spec.id, reason, delayMs: decision.delayMs })
      // Dropped from the list when it fires, so a long crash-looping session does not pile timers up.
      const timer = setTimeout(() => {
        this.timers = this.timers.filter((t) => t !== timer)
        void this.respawn(m)
      }, decision.delayMs)
      this.timers.push(timer)
    }
    if (m.record.state === 'crashed')
      this.opts.progress?.({ type: 'crashed', id: m.spec.id, reason: m.record.lastExit! })
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
    if (result.ok) {
      m.record.state = 'running'
      this.save()
    } else {
      this.opts.log?.(`${m.spec.id}: ${result.detail}; killing it to restart`)
      signalGroup(m.record, 'SIGKILL', this.state.runId)
    }
  }

  // Stops everything this stack runs; used when a start fails and by --foreground on Ctrl+C.
  async stopAll(opts: Omit<StopOptions, 'runId'> = {}): Promise<StopReport> {
    this.stopping = true
    this.state.phase = 'stopping'
    this.save()
    // Every recorded process: those started or adopted here, and those an aborted adoption had not reached.
    const specs = new Map(
      [...this.opts.plan.processes, ...(this.opts.proxy ? [this.opts.proxy.spec] : [])].map((p) => [p.id, p]),
    )
    const targets = stopTargets(
      this.state.processes.filter((r) => r.pid > 0 && specs.has(r.id)),
      (r) => specs.get(r.id),
    )
    const report = await stopProcesses(targets, { ...opts, runId: this.state.runId })
    this.close()
    return report
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

  // Stop restarting (a stop command is taking everything down) but keep collecting logs until all is gone.
  beginStopping(): void {
    // A stop during bring-up: start nothing more (the stop command only knows what is recorded so far).
    if (this.state.phase === 'starting') this.abort('start aborted: a stop was requested')
    this.stopping = true
    this.state.phase = 'stopping'
    this.save()
  }

  allGone(): boolean {
    const table = processTable()
    return this.managed.every((m) => m.record.pid <= 0 || groupMembers(m.record, table, this.state.runId).length === 0)
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

// The state file's run, for resuming groups a dead writer left paused; a damaged file verifies nothing.
function recordedRun(home: Home): StackState | undefined {
  try {
    return readState(home)
  } catch {
    return undefined
  }
}
