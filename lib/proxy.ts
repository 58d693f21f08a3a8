import type { Home } from './home.ts'
import type { Plan } from './plan.ts'
import type { ProxyProcess } from './supervisor.ts'

// Ports the proxy itself binds for this plan.
export function proxyPorts(plan: Plan): number[] {
  if (plan.proxy.type === 'none') return []
  return [plan.proxy.port]
}

export function makeProxy(_home: Home, plan: Plan, _env: NodeJS.ProcessEnv): ProxyProcess | undefined {
  if (plan.proxy.type === 'none') return undefined
  return undefined
}
