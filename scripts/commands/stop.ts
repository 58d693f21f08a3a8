// The `stop` command: the stack here stopped and reported; --force finds its processes by their home.
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './stop.meta.ts'
import { noStackHere } from '../../lib/stack/registry.ts'
import { forceStop } from '../../lib/stack/stop.ts'
import { stopStack } from '../../lib/stack/run.ts'
import { printStopReport } from '../../lib/cli/progress.ts'
import { commandIO } from '../../lib/cli/command-io.ts'
import { plural } from '../../lib/core/words.ts'
import { usageError } from '../../lib/core/errors.ts'
import { offsetMismatch } from '../../lib/config/port-offset.ts'
import { runningPortOffset } from '../../lib/stack/state.ts'

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const io = commandIO(ctx)
  const otherOffset = offsetMismatch(values['port-offset'], runningPortOffset(ctx.home))
  if (otherOffset)
    throw usageError(`the stack in ${ctx.home.root} ${otherOffset}; nothing was stopped (leave out --port-offset)`)
  if (!values.force) {
    const result = await stopStack(io)
    if (!result.wasRunning) {
      ctx.stdout.write(`${noStackHere(ctx.home, ctx.env)}\n`)
      return 0
    }
    return printStopReport(result, ctx.stdout, ctx.stderr)
  }
  const r = await forceStop(io, io.onWait)
  if (r.damaged)
    ctx.stderr.write(`${r.damaged.split(';')[0]}: looked for the stack's processes by their environment instead\n`)
  const recorded = r.recorded?.report ? printStopReport(r.recorded, ctx.stdout, ctx.stderr) : 0
  for (const p of r.killed) ctx.stderr.write(`killed after 5 s: ${p}\n`)
  if (r.survivors.length) {
    ctx.stderr.write(`Error: not everything stopped:\n${r.survivors.map((s) => `  ${s}`).join('\n')}\n`)
    return 1
  }
  if (r.stopped.length || !r.recorded?.report)
    ctx.stdout.write(
      `stopped ${plural(r.stopped.length, 'process', 'processes')} found by their environment in ${r.ms} ms` +
        `${r.stopped.map((p) => `\n  ${p}`).join('')}\n`,
    )
  if (r.damaged) ctx.stdout.write(`removed ${ctx.home.state}\n`)
  return recorded
}
