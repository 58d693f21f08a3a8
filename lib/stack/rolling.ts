// Restarting instances without dropping a request: one at a time, each out of nginx's rotation while it restarts
// (drain, graceful reload, in-flight requests finish, restart, ready, back in rotation), then the next one.
import { BackendManagerError } from '../core/errors.ts'
import type { ProcessSpec } from '../config/plan.ts'
import { stopTargets, stopWaves } from '../os/terminate.ts'
import { targetNames, type LiveStack } from './live.ts'
import type { Managed } from './supervision.ts'

// Drained only behind nginx and while another instance of its server stays in rotation to take its requests;
// a lone instance restarts as fast as it can instead (nginx never marks it down: max_fails=0).
export function canDrain(live: LiveStack, m: Managed): boolean {
  if (live.plan.proxy.type !== 'nginx' || !live.plan.upstreams.some((u) => u.name === m.spec.server)) return false
  const serving = (o: Managed) => o !== m && o.record.state === 'running' && !live.drained.has(o.spec.id)
  return live.instances(m.spec.server).some(serving)
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
): Promise<Restarted[]> {
  const done: Restarted[] = []
  for (const m of targets) {
    const started = Date.now()
    const oldPid = m.record.pid
    // A paused instance is out of rotation already: it comes back once restarted, as a fresh process.
    const drained = canDrain(live, m) || m.record.state === 'paused'
    try {
      if (drained) await live.drain([m], 'restarting')
      await live.restartInstance(m, specFor(m))
      if (drained) await live.undrain([m], 'ready again')
    } catch (error) {
      throw afterDone(done, error)
    }
    const r = { id: m.spec.id, server: m.spec.server, port: m.spec.port, oldPid, newPid: m.record.pid, drained }
    done.push({ ...r, ms: Date.now() - started })
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
      const restarted = await restartInWaves(live, chosen)
      return { restarted, ms: Date.now() - started }
    })
  }
}

// Many servers at once (a whole-stack restart): dependencies first, wave by wave, so a server never comes back
// while what it depends on is down. In a wave the lone instances (nothing to drain them behind) restart together;
// then the others roll one at a time, since each of their drains is a reload of the one nginx.
export async function restartInWaves(live: LiveStack, targets: Managed[]): Promise<Restarted[]> {
  const done: Restarted[] = []
  for (const wave of dependencyWaves(targets)) {
    const lone = wave.filter((m) => !canDrain(live, m))
    const results = await Promise.allSettled(lone.map((m) => rollingRestart(live, [m])))
    for (const r of results) if (r.status === 'fulfilled') done.push(...r.value)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw afterDone(done, failed.reason)
    for (const m of wave.filter((m) => !lone.includes(m))) {
      try {
        done.push(...(await rollingRestart(live, [m])))
      } catch (error) {
        throw afterDone(done, error)
      }
    }
  }
  return done
}

// The targets in the waves a stop takes them down in (see stopWaves), the other way round: dependencies first.
function dependencyWaves(targets: Managed[]): Managed[][] {
  const of = new Map(targets.map((m) => [m.record, m]))
  const waves = stopWaves(stopTargets([...of.keys()], (r) => of.get(r)!.spec))
  return waves.reverse().map((wave) => wave.map((t) => of.get(t.record)!))
}

function afterDone(done: Restarted[], error: unknown): unknown {
  if (!(error instanceof BackendManagerError) || done.length === 0) return error
  return new BackendManagerError(error.code, `restarted ${done.map((r) => r.id).join(', ')}; then ${error.message}`)
}
