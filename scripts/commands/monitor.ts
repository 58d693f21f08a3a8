// The `monitor` command: the live view until q (or a signal); exit 0 when it ends cleanly.
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './monitor.meta.ts'
import { runMonitor } from '../../lib/cli/monitor.ts'

export async function run(_parsed: Parsed<typeof meta>, ctx: Context): Promise<number> {
  return runMonitor(ctx, process.stdin)
}
