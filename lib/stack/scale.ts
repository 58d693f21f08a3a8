// Scaling servers of the running stack: new instances on the next ports, each ready before nginx sends it anything;
// the highest instances drained out of nginx's rotation before they stop. The new counts are the plan from then on.
import { BackendManagerError, usageError } from '../core/errors.ts'
import { specOf, type Plan, type ProcessSpec } from '../config/plan.ts'
import { scaledPlan, unscaledPlan } from '../config/scaled-plan.ts'
import { didYouMean } from '../config/schema.ts'
import { refuseBusyPorts } from '../os/ports.ts'
import { proxyPorts } from '../proxy/process.ts'
import { idsOf, type LiveStack } from './live.ts'
import type { StackState } from './state.ts'

// A sane ceiling: each instance is a process of its own on a port of its own.
export const MAX_INSTANCES = 256

export interface ScaleChange {
  server: string
  from: number
  to: number
  // The server's ports after the change (none for a server without a port).
  ports: number[]
  started: string[]
  stopped: string[]
}

const expected = `a whole number of instances from 1 to ${MAX_INSTANCES}`

// {NAME: N} as the control API takes it (`{"servers": {"api": 4}}`): every count checked, the first bad one named.
export function checkCounts(servers: unknown): Record<string, number> {
  if (!servers || typeof servers !== 'object' || Array.isArray(servers) || Object.keys(servers).length === 0)
    throw usageError(`scale: expected "servers": {"NAME": N, ...} with N ${expected}, got ${JSON.stringify(servers)}`)
  for (const [name, n] of Object.entries(servers))
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_INSTANCES)
      throw usageError(`scale ${name}=${typeof n === 'number' ? n : JSON.stringify(n)}: expected ${expected}`)
  return servers as Record<string, number>
}

// NAME=N words from the command line, checked as the control API checks them.
export function countsFromWords(words: string[]): Record<string, number> {
  if (words.length === 0) throw usageError('scale: expected NAME=N for each server to scale, as in "scale api=4"')
  const counts: Record<string, unknown> = {}
  for (const word of words) {
    const m = /^([^=]*)=(.*)$/.exec(word)
    if (!m || m[1] === '')
      throw usageError(`scale: "${word}" is not NAME=N; expected a server and a count, as in api=4`)
    if (Object.hasOwn(counts, m[1])) throw usageError(`scale: ${m[1]} is named twice; give each server once`)
    counts[m[1]] = /^\d+$/.test(m[2]) ? Number(m[2]) : m[2]
  }
  return checkCounts(counts)
}

// The stack runs exactly this plan (or runs it scaled), however its config file was named: a second start has
// nothing to do.
export function runsPlan(state: StackState, plan: Plan): boolean {
  // Servers' config is left out: all of it shows in their processes, and older states do not record it.
  const strip = (p: Plan) =>
    JSON.stringify({ ...p, file: undefined, configPath: undefined, servers: undefined, scaled: undefined })
  return (
    strip(state.plan) === strip(plan) ||
    (state.plan.scaled !== undefined && strip(unscaledPlan(state.plan)) === strip(plan))
  )
}

// A start of the config a scaled stack runs keeps the scale: the plan it starts (or adopts) is the scaled one.
export function keepScale(plan: Plan, state: StackState | undefined): Plan {
  if (!state?.plan.scaled || !runsPlan(state, plan)) return plan
  return { ...state.plan, file: plan.file, configPath: plan.configPath }
}

// Every server named runs in this stack; every new port stays in range and is nobody else's in the plan.
function planFor(plan: Plan, counts: Record<string, number>): Plan {
  if (!plan.servers)
    throw new BackendManagerError(
      'STATE',
      `the running stack's plan does not record its servers' config; restart it to scale`,
    )
  const known = (plan.servers ?? []).map((s) => s.name)
  for (const name of Object.keys(counts))
    if (!known.includes(name))
      throw usageError(
        `scale ${name}=${counts[name]}: no server "${name}" in the running stack${didYouMean(name, known)}` +
          `; servers: ${known.join(', ') || 'none'}`,
      )
  let next = plan
  for (const [name, n] of Object.entries(counts)) next = scaledPlan(next, name, n)
  for (const [name, n] of Object.entries(counts)) {
    const ports = next.processes.filter((p) => p.server === name && p.port !== undefined).map((p) => p.port!)
    if (ports.length === 0) continue
    const last = ports[ports.length - 1]
    if (last > 65535) throw usageError(`scale ${name}=${n}: its ports ${ports[0]}-${last} run past 65535`)
    const others = next.processes.filter((p) => p.server !== name && p.port !== undefined && ports.includes(p.port))
    if (others.length)
      throw usageError(`scale ${name}=${n}: port ${others[0].port} is ${others[0].id}'s; ${name} can grow to fewer`)
    const proxy = proxyPorts(next).find((p) => ports.includes(p))
    if (proxy !== undefined)
      throw usageError(`scale ${name}=${n}: port ${proxy} is the proxy's; ${name} can grow to fewer`)
  }
  return next
}

// Starts every new instance until ready; if one fails, the others started with it are stopped again.
async function startAll(live: LiveStack, added: ProcessSpec[]): Promise<void> {
  const results = await Promise.allSettled(added.map((spec) => live.startInstance(spec)))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (!failed) return
  for (const r of results) if (r.status === 'fulfilled') await live.stopInstance(r.value, true)
  throw failed.reason
}

// Scales each named server to its count, in one change of the running stack: started instances are ready before
// the proxy's one reload sends them requests; stopped ones are drained out of nginx (a reload that waits for their
// requests in flight) before they stop.
export function scaleServers(live: LiveStack, counts: Record<string, number>): Promise<ScaleChange[]> {
  return live.exclusive(async () => {
    const plan = live.plan
    const next = planFor(plan, counts)
    const added = next.processes.filter((p) => !specOf(plan, p.id))
    const removed = live.instances().filter((m) => !specOf(next, m.spec.id))
    // Nothing is started while any new port is taken.
    await refuseBusyPorts(added, 'nothing was scaled')
    const routed = (server: string) => next.upstreams.some((u) => u.name === server)
    const changed = (m: { server: string }) => routed(m.server)
    await startAll(live, added)
    const drain = next.proxy.type === 'nginx' && removed.some((m) => changed(m.spec))
    if (drain) {
      await live.drain(removed, 'scaling down')
    } else if (removed.some((m) => changed(m.spec))) {
      // A proxy without drains (Envoy) is given the new upstreams before the instances stop.
      live.setPlan(next)
      await live.reloadProxy(`scaled down: ${idsOf(removed)} leave`)
    }
    await Promise.all(removed.map((m) => live.stopInstance(m, true)))
    for (const m of removed) live.drained.delete(m.spec.id)
    live.setPlan(next)
    if (added.some(changed) || drain) await live.reloadProxy(`scaled ${describe(plan, next, counts)}`)
    return Object.entries(counts).map(([server, to]) => {
      const from = plan.processes.filter((p) => p.server === server).length
      if (from !== to) live.events.emit({ kind: 'scale', id: server, from, to })
      const of = (p: { server: string }) => p.server === server
      return {
        server,
        from,
        to,
        ports: next.processes.filter(of).flatMap((p) => (p.port === undefined ? [] : [p.port])),
        started: added.filter(of).map((p) => p.id),
        stopped: removed.filter((m) => of(m.spec)).map((m) => m.spec.id),
      }
    })
  })
}

// POST /v1/scale: `{"servers": {"api": 4}}` answers `{"servers": [ScaleChange, ...]}`.
export async function scaleAnswer(live: LiveStack, body: Record<string, unknown>): Promise<{ servers: ScaleChange[] }> {
  return { servers: await scaleServers(live, checkCounts(body.servers)) }
}

function describe(plan: Plan, next: Plan, counts: Record<string, number>): string {
  const count = (p: Plan, name: string) => p.processes.filter((s) => s.server === name).length
  return Object.keys(counts)
    .map((name) => `${name} ${count(plan, name)} -> ${count(next, name)}`)
    .join(', ')
}
