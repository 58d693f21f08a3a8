// Health after ready: each instance's check every interval. The first failure takes it out of the proxy's rotation
// (while another instance serves), `retries` failures in a row restart it, a pass puts it back. One timer per stack,
// set for the next checks due (woken early when an instance becomes ready); paused instances, and those stopped by a
// signal, are not checked.
import type { HealthSpec } from '../config/plan.ts'
import { readStat } from '../os/procfs.ts'
import { runCheck } from '../probe/health-check.ts'
import type { ProbeResult } from '../probe/readiness.ts'
import type { EventKind } from './events.ts'
import type { LiveStack } from './live.ts'
import { recycle } from './recycle.ts'
import { canDrain } from './rolling.ts'
import type { Managed } from './supervision.ts'

// Instances that become ready wake the timer at once; this slow look catches any other way into 'running'.
const IDLE_TICK_MS = 5000
const MIN_TICK_MS = 20
// Checks due this close together (at most a quarter of their interval) run in one wake-up: instances started
// together are checked together.
const BATCH_MS = 250
// Events after which an instance may be checkable, or no longer what its entry says.
const WAKING = new Set<EventKind>(['ready', 'adopt', 'resume', 'reload', 'scale'])

interface Watched {
  pid: number
  nextAt: number
  failures: number
  // A check passed since this process was spawned: its start period is over, every failure counts.
  passed: boolean
  busy: boolean
}

export interface Watcher {
  stop(): void
}

// Whether the check is the readiness check itself: then being ready was its first pass.
const sameAsReadiness = (m: Managed, health: HealthSpec) =>
  JSON.stringify(health.check) === JSON.stringify(m.spec.readiness)

// Running as far as the supervisor knows, and not being changed by a command.
const running = (m: Managed) =>
  m.record.state === 'running' && !m.retiring && m.exitReason === undefined && m.record.pid > 0

// Stopped by SIGSTOP or Ctrl+Z (a debugger, a user): it cannot answer, and that is no sickness. Read only after a
// failed check, so a healthy stack's checks cost no /proc read.
const stoppedBySignal = (m: Managed) => readStat(m.record.pid)?.state === 'T'

export function watchHealth(live: LiveStack, env: NodeJS.ProcessEnv, log: (line: string) => void): Watcher {
  const watched = new Map<string, Watched>()
  // Taken out of rotation by a failed check (not by a command): put back by the next pass.
  const outBySickness = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let plannedAt = Infinity
  let stopped = false

  const schedule = (at: number) => {
    if (stopped || at >= plannedAt) return
    clearTimeout(timer)
    plannedAt = at
    timer = setTimeout(tick, Math.max(MIN_TICK_MS, at - Date.now()))
    timer.unref()
  }

  const tick = () => {
    plannedAt = Infinity
    const now = Date.now()
    let next = now + IDLE_TICK_MS
    const seen = new Set<string>()
    for (const m of live.instances()) {
      const health = m.spec.health
      if (!health || !running(m)) continue
      seen.add(m.spec.id)
      let w = watched.get(m.spec.id)
      if (!w || w.pid !== m.record.pid) {
        w = {
          pid: m.record.pid,
          nextAt: now + health.intervalMs,
          failures: 0,
          passed: sameAsReadiness(m, health),
          busy: false,
        }
        watched.set(m.spec.id, w)
      }
      if (!w.busy && now + Math.min(BATCH_MS, health.intervalMs / 4) >= w.nextAt) void check(m, w, health)
      if (!w.busy) next = Math.min(next, w.nextAt)
    }
    for (const id of watched.keys()) if (!seen.has(id) && !watched.get(id)!.busy) watched.delete(id)
    schedule(next)
  }

  const check = async (m: Managed, w: Watched, health: HealthSpec) => {
    w.busy = true
    // Only a command needs the instance's environment: an HTTP or TCP check is not given a copy.
    const own = health.check.kind === 'command' ? { ...env, ...m.spec.env } : env
    const target = { host: m.spec.host, port: m.spec.port, cwd: m.spec.cwd, env: own }
    const result = await runCheck(health.check, target, health.timeoutMs)
    w.busy = false
    w.nextAt = Date.now() + health.intervalMs
    schedule(w.nextAt)
    // Restarted, paused or stopped meanwhile: this answer is about a process that is no longer watched.
    if (stopped || watched.get(m.spec.id) !== w || m.record.pid !== w.pid || !running(m)) return
    if (result.ok) return passed(m, w, result)
    if (stoppedBySignal(m) || (!w.passed && Date.now() - m.record.startedAt < health.startPeriodMs)) return
    w.failures++
    const { id } = m.spec
    const { failures } = w
    live.events.emit({ kind: 'unhealthy', id, pid: w.pid, failures, retries: health.retries, detail: result.detail })
    if (w.failures === 1) void outOfRotation(m, result.detail)
    if (w.failures >= health.retries) {
      // Checked no more until the restart is done: the new process gets a fresh entry.
      w.busy = true
      const times = `${w.failures} check${w.failures === 1 ? '' : 's'} failed in a row`
      void recycle(live, m, `unhealthy: ${result.detail} (${times})`, log).finally(() => {
        if (watched.get(id) === w) watched.delete(id)
      })
    }
  }

  const passed = (m: Managed, w: Watched, result: ProbeResult) => {
    const { id } = m.spec
    if (w.failures > 0) live.events.emit({ kind: 'healthy', id, pid: w.pid, detail: result.detail })
    w.failures = 0
    w.passed = true
    if (!outBySickness.delete(id)) return
    const pid = w.pid
    live
      .exclusive(async () => {
        if (live.drained.has(id) && m.record.pid === pid && running(m)) await live.undrain([m], 'healthy again')
      })
      .catch((error: Error) => log(`${id}: could not put it back in rotation: ${error.message}`))
  }

  // Only behind nginx and while another instance serves: a lone instance keeps its requests (502 would be no better).
  const outOfRotation = (m: Managed, detail: string) => {
    const { id } = m.spec
    const pid = m.record.pid
    return live
      .exclusive(async () => {
        if (m.record.pid !== pid || !running(m) || live.drained.has(id) || !canDrain(live, m)) return
        if ((watched.get(id)?.failures ?? 0) === 0) return
        await live.drain([m], `unhealthy (${detail})`)
        outBySickness.add(id)
      })
      .catch((error: Error) => log(`${id}: could not take it out of rotation: ${error.message}`))
  }

  const unsubscribe = live.events.subscribe((e) => {
    if (WAKING.has(e.kind)) schedule(Date.now() + MIN_TICK_MS)
  })
  schedule(Date.now() + MIN_TICK_MS)
  return {
    stop() {
      stopped = true
      unsubscribe()
      clearTimeout(timer)
    },
  }
}
