import { parseFlags, useColour, type Context } from '../../lib/cli.ts'
import { collectStatus, statusExitCode } from '../../lib/status.ts'
import { formatStatus } from '../../lib/status-format.ts'
import { noStackHere } from '../../lib/registry.ts'

export const usage = `Usage: backend-manager status [--json]

One row per process (the supervisor, every server instance, the proxy): pid, port, state,
health (probed now), uptime, restarts, CPU% and memory summed over the process tree.
Exit 0 when all are healthy, 1 when degraded, 3 when nothing is running.`

export async function run(args: string[], ctx: Context): Promise<number> {
  const { values } = parseFlags('status', args, { json: { type: 'boolean' } }, 0)
  const status = await collectStatus(ctx.home)
  if (!status.running) (values.json ? ctx.stderr : ctx.stdout).write(`${noStackHere(ctx.home, ctx.env)}\n`)
  if (!status.running && !values.json) return statusExitCode(status)
  ctx.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status, useColour(ctx.stdout, ctx.env)))
  return statusExitCode(status)
}
