// The `health` command: every server probed directly and through the proxy, as a table or JSON.
import { useColour, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './health.meta.ts'
import { checkHealth, formatHealth, runningStack } from '../../lib/stack/health.ts'
import { noStackHere } from '../../lib/stack/registry.ts'

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const stack = runningStack(ctx.home)
  if (!stack) {
    ctx.stdout.write(values.json ? '[]\n' : `${noStackHere(ctx.home, ctx.env)}\n`)
    return 3
  }
  const rows = await checkHealth(stack.plan, stack.paused)
  if (values.json) ctx.stdout.write(JSON.stringify(rows, null, 2) + '\n')
  else ctx.stdout.write(formatHealth(rows, useColour(ctx.stdout, ctx.env)))
  return rows.every((r) => r.result.ok) ? 0 : 1
}
