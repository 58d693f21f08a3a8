// Restarting instances without dropping a request: one at a time, each out of nginx's rotation while it restarts
// (drain, graceful reload, in-flight requests finish, restart, ready, back in rotation), then the next one.
import type { ProcessSpec } from '../config/plan.ts'
import type { LiveStack } from './live.ts'
import type { Managed } from './supervision.ts'

// Drained only behind nginx and while another instance of its server stays in rotation to take its requests;
// a lone instance restarts as fast as it can instead (nginx never marks it down: max_fails=0).
export function canDrain(live: LiveStack, m: Managed): boolean {
  if (live.plan.proxy.type !== 'nginx' || m.spec.port === undefined) return false
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

// Restarts each target in turn (with its new spec, after an apply); stops at the first that does not become ready,
// leaving it out of rotation and the rest untouched.
export async function rollingRestart(
  live: LiveStack,
  targets: Managed[],
  specFor: (m: Managed) => ProcessSpec = (m) => m.spec,
): Promise<void> {
  for (const m of targets) {
    // A paused instance is out of rotation already: it comes back once restarted, as a fresh process.
    const drained = canDrain(live, m) || m.record.state === 'paused'
    if (drained) await drain(live, m, 'restarting')
    await live.restartInstance(m, specFor(m))
    if (drained) await undrain(live, m, 'ready again')
  }
}
