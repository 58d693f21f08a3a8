// The detached supervisor: adopts what the state file lists (starting whatever is missing), then
// restarts crashed processes and builds the unified log until a stop or a handover.
import fs from 'node:fs'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './supervise.meta.ts'
import { superviseStack } from '../../lib/stack/run.ts'

export async function run(_parsed: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const fd = (ctx.stdout as { fd?: unknown }).fd
  const log = (line: string) => {
    const text = `${new Date().toISOString()} ${line}\n`
    // One write per note, straight to the file: a full disk loses that note, never the supervisor.
    if (typeof fd !== 'number') return void ctx.stdout.write(text)
    try {
      fs.writeSync(fd, text)
    } catch {
      // No room for it.
    }
  }
  return superviseStack(ctx.home, ctx.env, log)
}
