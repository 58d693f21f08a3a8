import type { Home } from './home.ts'
import type { Plan, ProcessSpec, Readiness } from './plan.ts'
import { probe, probeHttp, type ProbeResult } from './readiness.ts'
import { readState } from './state.ts'

// nginx answers this path by asking one server's upstream for its health path, so `health` can
// show that the proxy reaches every server, not only that each server answers on its own port.
export const PROXY_HEALTH_PREFIX = '/__backend-manager/health/'

export interface HealthRow {
  target: string
  via: 'direct' | 'proxy'
  url: string
  result: ProbeResult
}

const PROBE_TIMEOUT_MS = 1000

function describe(readiness: Readiness, host: string, port: number): string {
  if (readiness.kind === 'http') return `http://${host}:${port}${readiness.path}`
  return `tcp://${host}:${port}`
}

// One row per server instance probed directly, then one per server probed through the proxy.
export async function checkHealth(plan: Plan): Promise<HealthRow[]> {
  const direct = plan.processes
    .filter((p): p is ProcessSpec & { port: number } => p.port !== undefined && p.readiness.kind !== 'none')
    .map(async (p) => ({ target: p.id, via: 'direct' as const, url: describe(p.readiness, p.host, p.port), result: await probe(p.readiness, p.host, p.port, PROBE_TIMEOUT_MS) }))
  const proxied =
    plan.proxy.type === 'nginx'
      ? plan.upstreams
          .filter((u) => u.protocol === 'http')
          .map(async (u) => {
            const path = `${PROXY_HEALTH_PREFIX}${u.name}`
            return { target: u.name, via: 'proxy' as const, url: `http://${plan.proxy.host}:${plan.proxy.port}${path}`, result: await probeHttp(plan.proxy.host, plan.proxy.port, path, PROBE_TIMEOUT_MS) }
          })
      : []
  return Promise.all([...direct, ...proxied])
}

export function planOfRunningStack(home: Home): Plan | undefined {
  return readState(home)?.plan
}
