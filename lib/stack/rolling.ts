// Restarting instances without dropping a request: one at a time, each out of nginx's rotation while it restarts
// (drain, graceful reload, in-flight requests finish, restart, ready, back in rotation), then the next one.
import { BackendManagerError } from '../core/errors.ts'
import type { ProcessSpec } from '../config/plan.ts'
import type { LiveStack } from './live.ts'
import type { Managed } from './supervision.ts'

// Drained only behind nginx and while another instance of its server stays in rotation to take its requests;
// a lone instance restarts as fast as it can instead (nginx never marks it down: max_fails=0).
export function canDrain(live: LiveStack, m: Managed): boolean {
  if (live.plan.proxy.type !== 'nginx' || !live.plan.upstreams.some((u) => u.name === m.spec.server)) return false
  const serving = (o: Managed) => o !== m && o.record.state === 'running' && !live.drained.has(o.spec.id)
  return live.instances(m.spec.server).some(serving)
}

// Takes an instance out of rotation and returns once nginx sends it nothing and its in-flight requests are done.
export async function drain(live: LiveStack, m: Managed, why: string): Promise<void> {
  live.drained.add(m.spec.id)
  await live.reloadProxy(`${m.spec.id} out of rotation: ${why}`, true)
}

export async function undrain(live: LiveStack, m: Managed, why: string): Promise<void> {
  live.drained.delete(m.spec.id)
  await live.reloadProxy(`${m.spec.id} back in rotation: ${why}`)
}

// One instance restarted: its pid before and after, whether it was out of rotation meanwhile, how long it took.
export interface Restarted {
  id: string
  server: string
  port?: number
  oldPid: number
  newPid: number
  drained: boolean
  ms: number
}

// Restarts each target in turn (with its new spec, after an apply); stops at the first that does not become ready,
// leaving it out of rotation and the rest untouched; the error says which ones were restarted before it.
export async function rollingRestart(
  live: LiveStack,
  targets: Managed[],
  specFor: (m: Managed) => ProcessSpec = (m) => m.spec,
  onRestarted: (r: Restarted) => void = () => {},
): Promise<Restarted[]> {
  const done: Restarted[] = []
  for (const m of targets) {
    const started = Date.now()
    const oldPid = m.record.pid
    const drained = canDrain(live, m)
    try {
      if (drained) await drain(live, m, 'restarting')
      await live.restartInstance(m, specFor(m))
      if (drained) await undrain(live, m, 'ready again')
    } catch (error) {
      if (!(error instanceof BackendManagerError) || done.length === 0) throw error
      const before = done.map((r) => r.id).join(', ')
      throw new BackendManagerError(error.code, `restarted ${before}; then ${error.message}`)
    }
    const r = { id: m.spec.id, server: m.spec.server, port: m.spec.port, oldPid, newPid: m.record.pid, drained }
    done.push({ ...r, ms: Date.now() - started })
    onRestarted(done[done.length - 1])
  }
  return done
}

// POST /v1/restart: {targets?: [server or NAME-i, ...]}, every server when absent; refused before anything restarts
// when a name is unknown. One change at a time with the stack's other commands.
export function restartRoute(live: LiveStack): (body: Record<string, unknown>) => Promise<unknown> {
  return async (body) => {
    const targets = body.targets
    const names = targets === undefined ? undefined : targetNames(targets)
    return live.exclusive(async () => {
      const started = Date.now()
      const chosen = names ? live.resolveTargets(names) : live.instances()
      const restarted = await rollingRestart(live, chosen)
      return { restarted, ms: Date.now() - started }
    })
  }
}

function targetNames(targets: unknown): string[] {
  if (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === 'string' && t !== ''))
    return targets as string[]
  throw new BackendManagerError(
    'USAGE',
    `"targets" must be a non-empty list of server names or NAME-i instance ids (or left out for every server), ` +
      `got ${JSON.stringify(targets)}`,
  )
}
