// What health takes and says about itself; the run is in health.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'health',
  summary: 'probe every health endpoint directly and through the proxy',
  description: `Probes every server instance's health check directly on its port (HTTP path, TCP, or the gRPC
health service), and every server through the proxy (gRPC servers through its gRPC port), and
prints what answered. Under Envoy it also shows each instance's health as Envoy's own active
health checks see it (admin API /clusters). Exit 0 when everything answered, 1 otherwise, 3 when
nothing runs.`,
  flags: { json: { type: 'boolean', description: 'print it as JSON' } },
})
