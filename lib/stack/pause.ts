// Pausing instances of the running stack: out of nginx's rotation first (graceful reload, in-flight requests
// finish), then SIGSTOP to the whole group; resuming: SIGCONT, its health check answered, then back in rotation.
import { BackendManagerError } from '../core/errors.ts'
import { sleep } from '../core/sleep.ts'
import { groupMembers, processTable } from '../os/platform.ts'
import { signalGroup } from '../os/process-groups.ts'
import { waitReady } from '../probe/readiness.ts'
import { idsOf, type LiveStack } from './live.ts'
import type { Managed } from './supervision.ts'

export interface PauseAnswer {
  // Changed by this command, with the pid signalled; `drained`: taken out of (or put back in) nginx's rotation.
  changed: { id: string; pid: number; drained: boolean }[]
  // Already as asked (paused, or running): left alone.
  unchanged: string[]
}

// How long a group may take to show every member stopped once SIGSTOP was sent.
const STOPPED_WAIT_MS = 5000
const POLL_MS = 10

// Behind nginx a paused instance is marked down: nginx answers 502 at once instead of waiting on a stopped process.
const behindNginx = (live: LiveStack, m: Managed) => live.plan.proxy.type === 'nginx' && m.spec.port !== undefined

// Waits until the kernel shows every member of each group stopped (state T), so a caller sees it paused.
async function untilStopped(live: LiveStack, ms: Managed[]): Promise<void> {
  const deadline = Date.now() + STOPPED_WAIT_MS
  for (;;) {
    const table = processTable()
    const running = ms.filter((m) =>
      groupMembers(m.record, table, live.state.runId).some((p) => p.state !== 'T' && p.state !== 't'),
    )
    if (running.length === 0) return
    if (Date.now() > deadline)
      throw new BackendManagerError('STOP_FAILED', `${idsOf(running)} did not stop within ${STOPPED_WAIT_MS} ms`)
    await sleep(POLL_MS)
  }
}

export function pauseInstances(live: LiveStack, names: string[]): Promise<PauseAnswer> {
  return live.exclusive(async () => {
    const targets = live.resolveTargets(names)
    const todo = targets.filter((m) => m.record.state !== 'paused')
    const unready = todo.find((m) => m.record.state !== 'running' || m.record.pid <= 0)
    if (unready)
      throw new BackendManagerError(
        'USAGE',
        `${unready.spec.id} is ${unready.record.state}; only a running instance can be paused (see "status")`,
      )
    const drained = todo.filter((m) => behindNginx(live, m) && !live.drained.has(m.spec.id))
    if (drained.length) await live.drain(drained, 'pausing')
    for (const m of todo) {
      if (!signalGroup(m.record, 'SIGSTOP', live.state.runId))
        throw new BackendManagerError('STOP_FAILED', `${m.spec.id} (pid ${m.record.pid}) is gone; nothing to pause`)
      m.record.state = 'paused'
      live.save()
      live.events.emit({ kind: 'pause', id: m.spec.id, pid: m.record.pid })
    }
    await untilStopped(live, todo)
    return {
      changed: todo.map((m) => ({ id: m.spec.id, pid: m.record.pid, drained: behindNginx(live, m) })),
      unchanged: targets.filter((m) => !todo.includes(m)).map((m) => m.spec.id),
    }
  })
}

export function resumeInstances(live: LiveStack, names: string[]): Promise<PauseAnswer> {
  return live.exclusive(async () => {
    const targets = live.resolveTargets(names)
    const todo = targets.filter((m) => m.record.state === 'paused')
    const other = targets.find((m) => m.record.state !== 'paused' && m.record.state !== 'running')
    if (other)
      throw new BackendManagerError(
        'USAGE',
        `${other.spec.id} is ${other.record.state}, not paused; "restart --only ${other.spec.server}" starts it again`,
      )
    // Out of rotation until it answers its health check (a paused instance an earlier supervisor left is too).
    for (const m of todo) if (behindNginx(live, m)) live.drained.add(m.spec.id)
    for (const m of todo) {
      m.record.state = 'starting'
      signalGroup(m.record, 'SIGCONT', live.state.runId)
      live.save()
      live.events.emit({ kind: 'resume', id: m.spec.id, pid: m.record.pid })
    }
    const checks = await Promise.all(
      todo.map((m) => waitReady(m.spec.readiness, m.spec.host, m.spec.port, m.spec.readyTimeoutMs, () => m.exitReason)),
    )
    const ready = todo.filter((_, i) => checks[i].ok)
    for (const m of todo) if (m.exitReason === undefined) m.record.state = 'running'
    live.save()
    const back = ready.filter((m) => live.drained.has(m.spec.id))
    if (back.length) await live.undrain(back, 'resumed')
    const failed = todo.filter((_, i) => !checks[i].ok)
    if (failed.length)
      throw new BackendManagerError(
        'START_FAILED',
        failed
          .map(
            (m) =>
              `${m.spec.id} was continued but ${checks[todo.indexOf(m)].detail}; it stays out of the proxy's ` +
              `rotation: "restart --only ${m.spec.server}" starts it again`,
          )
          .join('\n'),
      )
    return {
      changed: todo.map((m) => ({ id: m.spec.id, pid: m.record.pid, drained: back.includes(m) })),
      unchanged: targets.filter((m) => !todo.includes(m)).map((m) => m.spec.id),
    }
  })
}

// What the CLI prints: a line per instance changed, then those already as asked.
export function describePauseAnswer(answer: PauseAnswer, verb: 'paused' | 'resumed'): string {
  const rotation = verb === 'paused' ? 'out of' : 'back in'
  return [
    ...(answer.changed ?? []).map(
      (c) => `${verb} ${c.id} (pid ${c.pid})${c.drained ? `, ${rotation} nginx's rotation` : ''}`,
    ),
    ...(answer.unchanged ?? []).map((id) => `${id} already ${verb === 'paused' ? 'paused' : 'running'}`),
  ]
    .map((line) => `${line}\n`)
    .join('')
}
