// Envoy's own view of its upstreams, from the admin API's /clusters?format=json: which instances
// its active health checks currently count as healthy.
import http from 'node:http'

export interface EnvoyHost {
  cluster: string
  address: string
  port: number
  healthy: boolean
  // "healthy", or the flags Envoy set: "failed active health check", "pending first health check", ...
  detail: string
}

interface HostStatus {
  address?: { socket_address?: { address?: string; port_value?: number } }
  health_status?: Record<string, unknown>
}

// Flags of admin.v3.HostHealthStatus that take a host out of rotation, in words.
const FLAGS: Record<string, string> = {
  failed_active_health_check: 'failed active health check',
  failed_outlier_check: 'ejected by outlier detection',
  failed_active_degraded_check: 'degraded',
  pending_dynamic_removal: 'pending removal',
  pending_active_hc: 'pending first health check',
  excluded_via_immediate_hc_fail: 'excluded (immediate health check failure)',
  active_hc_timeout: 'health check timed out',
}

export function parseClusters(json: unknown): EnvoyHost[] {
  const statuses =
    (json as { cluster_statuses?: { name?: string; host_statuses?: HostStatus[] }[] })?.cluster_statuses ?? []
  return statuses.flatMap((c) =>
    (c.host_statuses ?? []).map((h) => {
      const health = h.health_status ?? {}
      const flags = Object.keys(FLAGS)
        .filter((f) => health[f] === true)
        .map((f) => FLAGS[f])
      const eds = typeof health.eds_health_status === 'string' ? health.eds_health_status : 'HEALTHY'
      if (eds !== 'HEALTHY') flags.push(eds.toLowerCase())
      return {
        cluster: c.name ?? '?',
        address: h.address?.socket_address?.address ?? '?',
        port: h.address?.socket_address?.port_value ?? 0,
        healthy: flags.length === 0,
        detail: flags.length ? flags.join(', ') : 'healthy',
      }
    }),
  )
}

export const clustersUrl = (adminPort: number) => `http://127.0.0.1:${adminPort}/clusters?format=json`

export function fetchClusters(adminPort: number, timeoutMs: number): Promise<EnvoyHost[]> {
  return new Promise((resolve, reject) => {
    const req = http.get(clustersUrl(adminPort), { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d))
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`admin API answered HTTP ${res.statusCode}`))
        try {
          resolve(parseClusters(JSON.parse(body)))
        } catch (error) {
          reject(new Error(`admin API sent unreadable JSON (${(error as Error).message})`))
        }
      })
    })
    req.once('timeout', () => req.destroy(new Error(`no answer from the admin API within ${timeoutMs} ms`)))
    req.once('error', reject)
  })
}
