// The `status` command: one row per process (or JSON), and an exit code saying whether everything is healthy.
import { useColour, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './status.meta.ts'
import { describeLastFailure } from '../../lib/stack/last-failure.ts'
import { collectStatus, statusExitCode } from '../../lib/stack/status.ts'
import { statusFromSupervisor } from '../../lib/stack/control-client.ts'
import { formatStatus } from '../../lib/cli/status-format.ts'
import { noStackHere } from '../../lib/stack/registry.ts'
import { offsetMismatch } from '../../lib/config/port-offset.ts'
import { runningPortOffset } from '../../lib/stack/state.ts'

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  // The live view loads only here, so a plain `status` stays as quick as it was.
  if (values.watch) return (await import('../../lib/cli/monitor.ts')).runMonitor(ctx, process.stdin)
  // The supervisor answers what it watches; without one (gone, killed, not answering) the state file says the same.
  const status = (await statusFromSupervisor(ctx.home)) ?? (await collectStatus(ctx.home))
  const otherOffset = offsetMismatch(values['port-offset'], runningPortOffset(ctx.home))
  if (otherOffset) ctx.stderr.write(`note: the stack in ${ctx.home.root} ${otherOffset}\n`)
  // Nothing here at all (not even a failed start to report): name the stacks that run elsewhere.
  if (!status.running && !status.lastFailure) {
    ;(values.json ? ctx.stderr : ctx.stdout).write(`${noStackHere(ctx.home, ctx.env)}\n`)
    if (!values.json) return statusExitCode(status)
  }
  ctx.stdout.write(
    values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status, useColour(ctx.stdout, ctx.env)),
  )
  const failed = status.lastFailure
  if (failed && !values.json) ctx.stdout.write(`${describeLastFailure(failed)}\n`)
  return statusExitCode(status)
}
