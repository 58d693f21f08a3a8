// A running stack's plan at other instance counts (`scale`): each server resolved again as its config would be.
import { BackendManagerError } from '../core/errors.ts'
import { resolveProcesses, type Plan } from './plan.ts'

// The plan with one server resolved again at another instance count, as resolvePlan would with that count in the
// config (ports, {port}/{instance}, PORT, INSTANCE); `scaled` keeps the config's count while they differ.
export function scaledPlan(plan: Plan, name: string, instances: number): Plan {
  const server = plan.servers?.find((s) => s.name === name)
  if (!server)
    throw new BackendManagerError(
      'STATE',
      `no server "${name}" in the plan of ${plan.file}; restart the stack to scale it`,
    )
  const resized = { ...server, instances }
  const fresh = resolveProcesses(resized, plan.proxy)
  const at = plan.processes.findIndex((p) => p.server === name)
  const processes = plan.processes.filter((p) => p.server !== name)
  processes.splice(at < 0 ? processes.length : at, 0, ...fresh)
  const ports = fresh.flatMap((p) => (p.port === undefined ? [] : [p.port]))
  const configured = plan.scaled?.[name] ?? server.instances
  const { [name]: _, ...others } = plan.scaled ?? {}
  const scaled = instances === configured ? others : { ...others, [name]: configured }
  return {
    ...plan,
    processes,
    upstreams: plan.upstreams.map((u) => (u.name === name ? { ...u, ports } : u)),
    servers: plan.servers!.map((s) => (s === server ? resized : s)),
    scaled: Object.keys(scaled).length ? scaled : undefined,
  }
}

// The plan as its config resolves it: every scaled server back at the config's count.
export function unscaledPlan(plan: Plan): Plan {
  return Object.entries(plan.scaled ?? {}).reduce((p, [name, count]) => scaledPlan(p, name, count), plan)
}
