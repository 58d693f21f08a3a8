import { DEFAULT_CONFIG, csv, parseFlags, type Context } from '../../lib/cli/context.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { formatPlan, planJson } from '../../lib/cli/plan-format.ts'

export const usage = `Usage: backend-manager plan [CONFIG] [--only a,b] [--json]

Shows what "start" would do, without starting anything: every process (name-instance, port,
command, the environment it gets on top of yours) in start order, and every proxy route.
CONFIG defaults to ${DEFAULT_CONFIG}.`

export async function run(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseFlags('plan', args, { only: { type: 'string' }, json: { type: 'boolean' } })
  const plan = resolvePlan(loadConfig(positionals[0] ?? DEFAULT_CONFIG), csv(values.only))
  ctx.stdout.write(values.json ? JSON.stringify(planJson(plan), null, 2) + '\n' : formatPlan(plan))
  return 0
}
