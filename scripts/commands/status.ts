import { parseFlags, useColour, type Context } from '../../lib/cli/context.ts'
import { describeStartFailure } from '../../lib/stack/last-failure.ts'
import { collectStatus, statusExitCode } from '../../lib/stack/status.ts'
import { formatStatus } from '../../lib/cli/status-format.ts'
import { noStackHere } from '../../lib/stack/registry.ts'

export const usage = `Usage: backend-manager status [--json]

One row per process (the supervisor, every server instance, the proxy): pid, port, state,
health (probed now), uptime, restarts, CPU% and memory summed over the process tree.
When the last start failed in the background (--no-wait), says which process, why, and its last
lines. Exit 0 when all are healthy, 1 when degraded or the last start failed, 3 when nothing is running.`

export async function run(args: string[], ctx: Context): Promise<number> {
  const { values } = parseFlags('status', args, { json: { type: 'boolean' } }, 0)
  const status = await collectStatus(ctx.home)
  // Nothing here at all (not even a failed start to report): name the stacks that run elsewhere.
  if (!status.running && !status.lastFailure) {
    ;(values.json ? ctx.stderr : ctx.stdout).write(`${noStackHere(ctx.home, ctx.env)}\n`)
    if (!values.json) return statusExitCode(status)
  }
  ctx.stdout.write(
    values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status, useColour(ctx.stdout, ctx.env)),
  )
  const failed = status.lastFailure
  if (failed && !values.json) {
    const at = new Date(failed.at).toTimeString().slice(0, 8)
    ctx.stdout.write(`the last start failed (at ${at}, config ${failed.config}): ${describeStartFailure(failed)}\n`)
  }
  return statusExitCode(status)
}
