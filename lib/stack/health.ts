// The health of a running stack: every instance probed directly and through the proxy, and as Envoy sees it.
import { clustersUrl, fetchClusters, type EnvoyHost } from '../proxy/envoy/admin.ts'
import type { Home } from '../core/home.ts'
import { PROXY_HEALTH_PREFIX } from '../proxy/contract.ts'
import { proxyListeners, type Plan, type ProcessSpec, type Readiness } from '../config/plan.ts'
import { table } from '../core/table.ts'
import { probe, probeGrpc, probeHttp, type ProbeResult } from '../probe/readiness.ts'
import { readState } from './state.ts'

export interface HealthRow {
  target: string
  // envoy: how Envoy's own active health checks see the instance (from its admin API).
  via: 'direct' | 'proxy' | 'envoy'
  url: string
  result: ProbeResult
  // Paused on purpose: not probed (a stopped process would only time out) and no failure.
  paused?: true
}

const PROBE_TIMEOUT_MS = 1000

function describe(readiness: Readiness, host: string, port: number): string {
  if (readiness.kind === 'http') return `http://${host}:${port}${readiness.path}`
  return `${readiness.kind === 'grpc' ? 'grpc' : 'tcp'}://${host}:${port}`
}

// Through the proxy: each HTTP server's health path on the HTTP port, the gRPC server's health service on the gRPC port.
function throughProxy(plan: Plan): Promise<HealthRow>[] {
  if (plan.proxy.type === 'none') return []
  const { http, grpc } = proxyListeners(plan.proxy, plan.upstreams)
  const host = plan.proxy.host
  return plan.upstreams.flatMap((u) => {
    if (u.protocol === 'grpc' && grpc !== undefined)
      return [
        probeGrpc(host, grpc, PROBE_TIMEOUT_MS).then((result) => ({
          target: u.name,
          via: 'proxy' as const,
          url: `grpc://${host}:${grpc}`,
          result,
        })),
      ]
    if (u.protocol === 'http' && u.healthPath && http !== undefined) {
      const path = `${PROXY_HEALTH_PREFIX}${u.name}`
      return [
        probeHttp(host, http, path, PROBE_TIMEOUT_MS).then((result) => ({
          target: u.name,
          via: 'proxy' as const,
          url: `http://${host}:${http}${path}`,
          result,
        })),
      ]
    }
    return []
  })
}

// One row per instance behind Envoy, as its health checks see it; one failing row when the admin API does not answer.
async function envoyView(plan: Plan): Promise<HealthRow[]> {
  if (plan.proxy.type !== 'envoy') return []
  const url = clustersUrl(plan.proxy.admin_port)
  let hosts: EnvoyHost[]
  try {
    hosts = await fetchClusters(plan.proxy.admin_port, PROBE_TIMEOUT_MS)
  } catch (error) {
    return [{ target: 'envoy', via: 'envoy', url, result: { ok: false, detail: (error as Error).message } }]
  }
  const routed = new Set(plan.upstreams.map((u) => u.name))
  return plan.processes
    .filter((p) => routed.has(p.server) && p.port !== undefined)
    .map((p) => {
      const host = hosts.find((h) => h.cluster === p.server && h.port === p.port)
      const result: ProbeResult = host
        ? { ok: host.healthy, detail: `envoy: ${host.detail}` }
        : { ok: false, detail: 'envoy: not in its clusters' }
      return { target: p.id, via: 'envoy' as const, url, result }
    })
}

// One row per server instance probed directly, then one per server probed through the proxy,
// then (under Envoy) one per instance as Envoy sees it.
export async function checkHealth(plan: Plan, paused: ReadonlySet<string> = new Set()): Promise<HealthRow[]> {
  const direct = plan.processes
    .filter((p): p is ProcessSpec & { port: number } => p.port !== undefined && p.readiness.kind !== 'none')
    .map(async (p): Promise<HealthRow> => {
      const url = describe(p.readiness, p.host, p.port)
      if (paused.has(p.id))
        return { target: p.id, via: 'direct', url, result: { ok: true, detail: 'not probed' }, paused: true }
      return { target: p.id, via: 'direct', url, result: await probe(p.readiness, p.host, p.port, PROBE_TIMEOUT_MS) }
    })
  const [rows, envoy] = await Promise.all([Promise.all([...direct, ...throughProxy(plan)]), envoyView(plan)])
  return [...rows, ...envoy]
}

// The plan the stack runs, and which of its instances are paused.
export function runningStack(home: Home): { plan: Plan; paused: Set<string> } | undefined {
  const state = readState(home)
  if (!state) return undefined
  return { plan: state.plan, paused: new Set(state.processes.filter((p) => p.state === 'paused').map((p) => p.id)) }
}

export function formatHealth(rows: HealthRow[], colour: boolean): string {
  const mark = (ok: boolean) => (colour ? (ok ? '\x1b[32mok\x1b[0m' : '\x1b[31mFAIL\x1b[0m') : ok ? 'ok' : 'FAIL')
  return table(
    ['TARGET', 'VIA', 'RESULT', 'DETAIL', 'URL'],
    rows.map((r) => [r.target, r.via, r.paused ? 'paused' : mark(r.result.ok), r.result.detail, r.url]),
  )
}
