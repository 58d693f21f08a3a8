// What a command passes down to a run: progress lines on stdout, notices and waits on stderr.
import type { Context } from './context.ts'
import { progressPrinter } from './progress.ts'
import type { RunIO } from '../stack/run.ts'

export function commandIO(ctx: Context): RunIO {
  return {
    home: ctx.home,
    env: ctx.env,
    progress: progressPrinter(ctx.stdout, ctx.env),
    notice: (line) => ctx.stderr.write(`${line}\n`),
    onWait: (what) => ctx.stderr.write(`waiting for ${what}\n`),
  }
}
