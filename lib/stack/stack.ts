// The stack: brings a plan up on top of its supervision (servers in dependency order, adopting what an earlier
// supervisor left running, each waited for until ready, the proxy last), says which process failed and why, stops it.
import { BackendManagerError } from '../core/errors.ts'
import { processLogPath } from '../logs/paths.ts'
import type { ProcessSpec } from '../config/plan.ts'
import { groupMembers, isRecordedProcess, processTable } from '../os/platform.ts'
import { waitReady } from '../probe/readiness.ts'
import { stopProcesses, stopTargets, type StopOptions, type StopReport } from '../os/terminate.ts'
import { describeStartFailure, type StartFailure } from './last-failure.ts'
import { Supervision, type Managed, type StackOptions } from './supervision.ts'
import { completedBefore, untilTaskEnds } from './tasks.ts'
import type { SupervisorEvent } from './events.ts'
import { stopAllFor } from './failure-policy.ts'

export class Stack extends Supervision {
  // Which process failed the bring-up, why, and its last lines: kept for `status` after a background start.
  failed?: StartFailure

  constructor(opts: StackOptions) {
    super(opts)
    // on_failure, applied to what the supervision says failed for good.
    this.events.subscribe((e) => this.failedForGood(e))
  }

  // Starts (or adopts) every server once its dependencies are ready, then the proxy; throws on the first failure.
  async bringUp(): Promise<void> {
    this.unified.watch()
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
      const { changed } = this.opts.proxy.prepare(this.pausedIds())
      await this.launch(this.opts.proxy.spec, 'proxy', changed)
    }
    // Aborted after the last wait succeeded: still a failed start, and the phase stays 'stopping'.
    if (this.firstError) throw this.firstError
    this.state.phase = 'running'
    this.save()
  }

  // stop-all: a bring-up in progress fails (a failed task fails it anyway, naming itself); a running stack says so,
  // and whoever runs it (the supervisor, a --foreground run) stops it all.
  private failedForGood(e: SupervisorEvent): void {
    const stop = this.stopping ? undefined : stopAllFor(this.opts.plan, e)
    if (!stop) return
    if (this.state.phase !== 'starting') this.emit(stop.event)
    else if (e.kind === 'crash') this.abort(stop.words)
  }

  // A process to watch: its record starts empty and is filled as it is adopted or spawned.
  protected newManaged(spec: ProcessSpec, kind: 'server' | 'proxy', restarts = 0): Managed {
    const logFile = kind === 'proxy' ? this.opts.proxy!.logFile : processLogPath(this.opts.home, spec.id)
    return {
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
        restarts,
        logFile,
      },
    }
  }

  // Follows its log into the unified log; `fromEnd` skips what an earlier run left in the file. A paused group
  // writes nothing and is never paused for a rotation (its SIGCONT would resume it).
  protected watch(m: Managed, fromEnd: boolean): void {
    this.managed.push(m)
    const group = () => (m.record.state === 'paused' ? undefined : m.record)
    this.unified.follow(m.spec.id, m.record.logFile, { stderrFile: this.stderrFile(m), group, fromEnd })
  }

  // Instances paused on purpose: always out of the proxy's rotation, whoever renders its config.
  pausedIds(): string[] {
    return this.managed.filter((m) => m.record.state === 'paused').map((m) => m.spec.id)
  }

  private async launch(spec: ProcessSpec, kind: 'server' | 'proxy', configChanged = false): Promise<void> {
    if (this.firstError) throw this.firstError
    const old = this.opts.previous?.processes.find((p) => p.id === spec.id)
    const m = this.newManaged(spec, kind, old?.restarts)
    this.watch(m, !old)
    const started = Date.now()
    if (spec.task && completedBefore(old) && !isRecordedProcess(old, this.state.runId)) {
      Object.assign(m.record, old)
      // Its end is known: no exit to look for.
      m.exitReason = old.lastExit ?? 'completed'
      return this.record(m.record)
    }
    if (old && isRecordedProcess(old, this.state.runId)) {
      // Recorded before it was ready (its supervisor died during a --no-wait bring-up): checked like a new one.
      const unready = old.state === 'starting' || old.state === 'restarting'
      Object.assign(m.record, {
        pid: old.pid,
        pgid: old.pgid,
        startTime: old.startTime,
        startedAt: old.startedAt,
        // Paused by `pause`: it stays stopped and out of the proxy's rotation until `resume`.
        state: unready ? 'starting' : old.state === 'paused' ? 'paused' : 'running',
        adopted: true,
      })
      this.record(m.record)
      this.save()
      this.watchAdopted()
      this.emit({ kind: 'adopt', id: spec.id, pid: old.pid, port: spec.port, paused: m.record.state === 'paused' })
      if (configChanged && this.opts.proxy) {
        this.opts.proxy.reload(old.pid)
        this.emit({ kind: 'reload', id: spec.id, pid: old.pid, reason: 'its config changed' })
      }
      this.opts.progress?.({ type: 'adopted', id: spec.id, pid: old.pid })
      if (!unready) return
    } else {
      // It ended while no supervisor watched (between two supervisors): said before its replacement starts.
      if (old && old.pid > 0 && (old.state === 'running' || old.state === 'starting'))
        this.emit({ kind: 'exit', id: spec.id, pid: old.pid, reason: 'exited while unwatched (exit status unknown)' })
      this.record(m.record)
      this.spawn(m)
    }
    const aborted = () => m.exitReason ?? (this.firstError ? 'start aborted' : undefined)
    const waiting = (ms: number, reason: string) => this.opts.progress?.({ type: 'waiting', id: spec.id, ms, reason })
    const result = spec.task
      ? await untilTaskEnds(m.record, spec.readyTimeoutMs, () => (this.firstError ? 'start aborted' : undefined))
      : await waitReady(spec.readiness, spec.host, spec.port, spec.readyTimeoutMs, aborted, waiting)
    if (!result.ok) {
      // A failure elsewhere aborted this wait: report the first failure, not this echo of it.
      if (this.firstError) throw this.firstError
      this.firstError = this.failure(m, result.detail)
      throw this.firstError
    }
    if (!spec.task) m.record.state = 'running'
    this.save()
    const ms = Date.now() - started
    // A task's end was its event.
    if (!spec.task)
      this.emit({ kind: 'ready', id: spec.id, pid: m.record.pid, port: spec.port, ms, detail: result.detail })
    this.opts.progress?.({
      type: 'ready',
      id: spec.id,
      pid: m.record.pid,
      port: spec.port,
      ms,
      detail: result.detail,
    })
  }

  private failure(m: Managed, reason: string): BackendManagerError {
    this.failed = this.startFailure(m, reason)
    return new BackendManagerError('START_FAILED', describeStartFailure(this.failed))
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

  // Stop restarting (a stop command is taking everything down) but keep collecting logs until all is gone.
  beginStopping(): void {
    // A stop during bring-up: start nothing more (the stop command only knows what is recorded so far).
    if (this.state.phase === 'starting') this.abort('start aborted: a stop was requested')
    this.stopping = true
    this.state.phase = 'stopping'
    this.save()
  }

  // Every group gone, and every child's exit said (a zombie is no group member, but its exit event is still due).
  allGone(): boolean {
    const table = processTable()
    return this.managed.every(
      (m) =>
        (m.record.pid <= 0 || groupMembers(m.record, table, this.state.runId).length === 0) &&
        (!m.child || m.child.exitCode !== null || m.child.signalCode !== null),
    )
  }
}
