// The `apply` command: the supervisor diffs the running stack against a config and applies the difference.
import path from 'node:path'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './apply.meta.ts'
import type { ApplyAnswer } from '../../lib/stack/apply.ts'
import { commandSupervisor } from '../../lib/stack/control-client.ts'
import { readState } from '../../lib/stack/state.ts'
import { noStackHere } from '../../lib/stack/registry.ts'
import { portOffsetOf } from '../../lib/config/port-offset.ts'

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const state = readState(ctx.home)
  if (!state) {
    ctx.stderr.write(`${noStackHere(ctx.home, ctx.env)}\n`)
    return 3
  }
  const given = positionals[0]
  const configPath = given === undefined ? state.plan.configPath : path.resolve(ctx.cwd, given)
  const dryRun = values['dry-run'] ?? false
  const portOffset = portOffsetOf(values['port-offset'], ctx.env)?.value
  const started = Date.now()
  const answer = (await commandSupervisor(ctx.home, '/v1/apply', {
    configPath,
    dryRun,
    portOffset,
  })) as unknown as ApplyAnswer
  if (!answer.changed) {
    ctx.stdout.write(`no changes: the stack already runs ${answer.config}\n`)
    return 0
  }
  ctx.stdout.write(answer.lines.map((line) => `${line}\n`).join(''))
  ctx.stdout.write(
    dryRun ? 'dry run: nothing was changed\n' : `applied ${answer.config} in ${Date.now() - started} ms\n`,
  )
  return 0
}
