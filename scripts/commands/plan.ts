// The `plan` command: what a start would run for a config (processes, environment, routes), starting nothing.
import { DEFAULT_CONFIG, csv, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './plan.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { formatPlan, planJson } from '../../lib/cli/plan-format.ts'

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const plan = resolvePlan(loadConfig(positionals[0] ?? DEFAULT_CONFIG), csv(values.only))
  ctx.stdout.write(values.json ? JSON.stringify(planJson(plan), null, 2) + '\n' : formatPlan(plan))
  return 0
}
