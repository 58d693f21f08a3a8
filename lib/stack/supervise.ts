// The detached supervisor's own life: the run it is given, the signals that end it, its CPU samples.
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import { cpuTargets, recordCpu } from './cpu.ts'
import { startTimeOf } from '../os/platform.ts'
import { makeProxy } from '../proxy/process.ts'
import { sleep } from '../core/sleep.ts'
import { readState, removeState } from './state.ts'
import { LiveStack } from './live.ts'
import { writeLastFailure, type LastFailure } from './last-failure.ts'
import { serveControl } from './control-server.ts'
import { controlRoutes } from './control-routes.ts'
import type { EventLog } from './events.ts'
import { reportStartProgress } from './start-progress.ts'
import { removeRunFiles, stackEndpoints } from './stop.ts'
import { runAfterStop } from './after-stop.ts'
import { watchRunning } from './watchers.ts'

// run: watching; stop: a stop command takes everything down (SIGTERM); handover: another command takes over (SIGUSR2);
// stop-all: a process failed for good under on_failure: stop-all, and the supervisor takes everything down itself.
export type SupervisorMode = 'run' | 'stop' | 'handover' | 'stop-all'

const ALL_GONE_MS = 60_000
const GIVEN_POLL_MS = 10

// Spawned before the start's checks, the supervisor waits until the state file names it; false when the start that
// spawned it ended first (its checks failed, or it was killed), so it has no run.
export async function untilGivenTheRun(home: Home): Promise<boolean> {
  const parent = process.ppid
  for (;;) {
    if (namesMe(home)) return true
    if (process.ppid !== parent) return namesMe(home)
    await sleep(GIVEN_POLL_MS)
  }
}

function namesMe(home: Home): boolean {
  try {
    return readState(home)?.supervisor.pid === process.pid
  } catch {
    // Damaged or being replaced: not yet.
    return false
  }
}

// Takes over the run the state file gives it; a failure to (a link planted where a log goes) is told to the start.
export function takeOver(home: Home, env: NodeJS.ProcessEnv, log: (line: string) => void): Supervisor | undefined {
  try {
    return new Supervisor(home, env, log)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    log(`cannot take over the run: ${message}`)
    const code = error instanceof BackendManagerError ? error.code : 'START_FAILED'
    reportStartProgress(home, { type: 'failed', code, message })
    return undefined
  }
}

export class Supervisor {
  // Set by the signal handlers, so the type is spelled out rather than narrowed to 'run'.
  private mode = 'run' as SupervisorMode
  // What made it stop everything (on_failure: stop-all), for `status` once nothing runs.
  private stoppedBy?: { id: string; reason: string }
  private wake = () => {}
  private readonly told = new Promise<void>((resolve) => (this.wake = resolve))
  private readonly stack: LiveStack
  private readonly cpu: { stop(): void }
  private readonly config: string
  private readonly control: { close(): void }

  // Takes over the run the state file records; listens for the signals that end it from now on.
  constructor(
    private readonly home: Home,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void,
  ) {
    const previous = readState(home)
    if (!previous) throw new BackendManagerError('NOT_FOUND', `no state file at ${home.state}; nothing to supervise`)
    this.config = previous.plan.file
    const stack = new LiveStack({
      home,
      plan: previous.plan,
      env,
      runId: previous.runId,
      proxy: makeProxy(home, previous.plan, env),
      previous,
      log,
      progress: (e) => {
        reportStartProgress(home, e)
        log(
          `${e.id}: ${e.type}${'reason' in e ? ` (${e.reason})` : ''}` +
            `${e.type === 'restarting' ? `; again in ${e.delayMs} ms` : ''}`,
        )
      },
    })
    this.stack = stack
    // SIGTERM: a stop command is taking everything down; keep collecting logs until it is all gone.
    process.on('SIGTERM', () => {
      // Already taking everything down itself (stop-all): the stop command finds it so.
      if (this.mode === 'stop-all') return
      this.mode = 'stop'
      stack.beginStopping()
      this.wake()
    })
    // SIGUSR2: another command takes over (restart --only); leave every process running.
    process.on('SIGUSR2', () => {
      this.mode = 'handover'
      this.wake()
    })
    stack.events.subscribe((e) => {
      if (e.kind !== 'stop-all' || this.mode !== 'run') return
      this.mode = 'stop-all'
      this.stoppedBy = { id: e.id, reason: e.reason }
      this.wake()
    })
    process.on('SIGINT', () => {})
    process.on('SIGHUP', () => {})
    log(`supervisor ${process.pid} taking over ${previous.processes.length} recorded processes`)
    // status shows CPU over the last few seconds from this file, not the lifetime average.
    const self = { pid: process.pid, startTime: startTimeOf(process.pid) ?? 'unknown' }
    this.cpu = recordCpu(home, self, () => cpuTargets(stack.state, self))
    this.control = serveControl(home, controlRoutes(home, stack), log)
  }

  // What the supervisor does, as it happens (the event stream), and the last few hundred events.
  get events(): EventLog {
    return this.stack.events
  }

  // Adopts what runs and starts what is missing; on failure (said for `status`) stops everything and says false.
  async bringUp(): Promise<boolean> {
    try {
      await this.stack.bringUp()
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      this.log(`start failed: ${reason}`)
      // Nobody may be watching this start (--no-wait): kept for `status`, unless a stop ended it on purpose.
      const failure = { at: Date.now(), config: this.config, ...(this.stack.failed ?? { reason }) }
      if (this.mode !== 'stop') this.recordFailure(failure)
      reportStartProgress(this.home, { type: 'stopping' })
      await this.stack.stopAll()
      removeState(this.home)
      const code = error instanceof BackendManagerError ? error.code : 'START_FAILED'
      reportStartProgress(this.home, { type: 'failed', code, message: reason })
      return false
    }
    this.log('all processes ready')
    watchRunning(this.stack, this.env, this.log)
    // Started with --watch (kept in the plan): a supervisor that takes the stack over watches too.
    if (this.stack.plan.watch) await (await import('./watch.ts')).watchStack(this.stack, this.home, this.log)
    reportStartProgress(this.home, { type: 'up' })
    return true
  }

  // Until a stop or a handover; woken by the signal itself, not by a poll: the stop command waits for this exit.
  async untilTold(): Promise<SupervisorMode> {
    if (this.mode === 'run') {
      // The interval only keeps the process alive until then; nothing is left to delay the exit.
      const keepAlive = setInterval(() => {}, 1 << 30)
      await this.told
      clearInterval(keepAlive)
    }
    return this.mode
  }

  // While a stop command takes everything down, the last lines still reach the unified log.
  async untilAllGone(): Promise<void> {
    const deadline = Date.now() + ALL_GONE_MS
    while (!this.stack.allGone() && Date.now() < deadline) await sleep(10)
  }

  // on_failure: stop-all: every process of the run stopped and its ports released, as `stop` does; then after_stop.
  async stopEverything(): Promise<void> {
    const report = await this.stack.stopAll({ wholeRun: true, ports: stackEndpoints(this.stack.state) })
    if (report.survivors.length) return this.log(`not everything stopped:\n${report.survivors.join('\n')}`)
    removeRunFiles({ home: this.home, env: this.env, notice: this.log })
    // `status` says why nothing runs any more.
    const config = this.stack.plan.file
    if (this.stoppedBy) this.recordFailure({ at: Date.now(), config, ...this.stoppedBy, stoppedAll: true })
    const hook = this.stack.plan.afterStop
    const after = hook && (await runAfterStop(this.home, hook, this.env))
    if (after?.failed) this.log(`after_stop: ${after.failed}`)
  }

  exit(): void {
    this.control.close()
    this.cpu.stop()
    // stop-all closed it as it stopped everything.
    if (this.mode !== 'stop-all') this.stack.close()
    this.log(`supervisor exiting (${this.mode})`)
  }

  private recordFailure(failure: LastFailure): void {
    try {
      writeLastFailure(this.home, failure)
    } catch (error) {
      this.log(`could not record the failure for "status": ${(error as Error).message}`)
    }
  }
}
