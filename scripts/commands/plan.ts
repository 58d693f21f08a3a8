// The `plan` command: what a start would run for a config (processes, environment, routes), starting nothing.
import { DEFAULT_CONFIG, csv, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './plan.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { portOffsetOf } from '../../lib/config/port-offset.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { keepScale } from '../../lib/stack/scale.ts'
import { readState, type StackState } from '../../lib/stack/state.ts'
import type { Home } from '../../lib/core/home.ts'
import { formatPlan, planJson } from '../../lib/cli/plan-format.ts'

// A damaged state file tells nothing about what runs; the config alone is shown.
function runningState(home: Home): StackState | undefined {
  try {
    return readState(home)
  } catch {
    return undefined
  }
}

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const portOffset = portOffsetOf(values['port-offset'], ctx.env)
  const file = positionals[0] ?? DEFAULT_CONFIG
  const config = resolvePlan(loadConfig(file, { env: ctx.env, portOffset, layout: values.layout }), csv(values.only))
  // A stack running this config scaled: a start would run the scaled count (said below the processes).
  const plan = keepScale(config, runningState(ctx.home))
  ctx.stdout.write(values.json ? JSON.stringify(planJson(plan), null, 2) + '\n' : formatPlan(plan))
  return 0
}
