import { parseFlags, useColour, type Context } from '../../lib/cli/context.ts'
import { checkHealth, formatHealth, planOfRunningStack } from '../../lib/stack/health.ts'
import { noStackHere } from '../../lib/stack/registry.ts'

export const usage = `Usage: backend-manager health [--json]

Probes every server instance's health check directly on its port (HTTP path, TCP, or the gRPC
health service), and every server through the proxy (gRPC servers through its gRPC port), and
prints what answered. Under Envoy it also shows each instance's health as Envoy's own active
health checks see it (admin API /clusters). Exit 0 when everything answered, 1 otherwise, 3 when
nothing runs.`

export async function run(args: string[], ctx: Context): Promise<number> {
  const { values } = parseFlags('health', args, { json: { type: 'boolean' } }, 0)
  const plan = planOfRunningStack(ctx.home)
  if (!plan) {
    ctx.stdout.write(values.json ? '[]\n' : `${noStackHere(ctx.home, ctx.env)}\n`)
    return 3
  }
  const rows = await checkHealth(plan)
  if (values.json) ctx.stdout.write(JSON.stringify(rows, null, 2) + '\n')
  else ctx.stdout.write(formatHealth(rows, useColour(ctx.stdout, ctx.env)))
  return rows.every((r) => r.result.ok) ? 0 : 1
}
