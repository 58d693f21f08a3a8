// The `restart` command: a rolling restart by the live supervisor when it runs this very config; else stop, then
// start with the running stack's config. --only restarts just those servers.
import path from 'node:path'
import { DEFAULT_CONFIG, csv, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './restart.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { asStarted, portOffsetOf } from '../../lib/config/port-offset.ts'
import { servingNames } from '../../lib/config/layout.ts'
import { restartRolling, restartServers, restartStack } from '../../lib/stack/run.ts'
import { onlyPlan, type RollingAnswer } from '../../lib/stack/restart-only.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { printStopReport } from '../../lib/cli/progress.ts'
import { commandIO } from '../../lib/cli/command-io.ts'
import { readState, type StackState } from '../../lib/stack/state.ts'
import { noStackHere } from '../../lib/stack/registry.ts'
import { processCount } from '../../lib/proxy/process.ts'
import { plural } from '../../lib/core/words.ts'
import { usageError } from '../../lib/core/errors.ts'

// The config the running stack was started from (absolute since it was recorded).
function runningConfig(state: StackState, cwd: string): string {
  return state.plan.configPath ?? path.resolve(cwd, state.plan.file)
}

// One line per instance restarted in place: its pid before and after, and whether nginx sent it nothing meanwhile.
function printRestarted(answer: RollingAnswer, out: NodeJS.WritableStream): void {
  for (const r of answer.restarted) {
    const port = r.port === undefined ? '' : ` port ${r.port}`
    const how = r.drained ? " (out of the proxy's rotation meanwhile)" : ''
    out.write(`restarted ${r.id.padEnd(20)} pid ${r.oldPid} -> ${r.newPid}${port} in ${r.ms} ms${how}\n`)
  }
}

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const state = readState(ctx.home)
  // Nothing to restart here, and no config to start from: name the stacks that run elsewhere.
  if (!state && (positionals[0] === undefined || values.only !== undefined)) {
    ctx.stderr.write(`${noStackHere(ctx.home, ctx.env)}\n`)
    return 3
  }
  const file = positionals[0] ?? (state ? runningConfig(state, ctx.cwd) : DEFAULT_CONFIG)
  const configPath = path.resolve(ctx.cwd, file)
  // The running stack's own config is read as its start read it: same ${VAR} values, same port offset.
  const running = state?.plan.configPath === configPath ? state.plan : undefined
  const given = portOffsetOf(values['port-offset'], ctx.env)
  const asBefore = asStarted(running, given, ctx.env)
  const layout = values.layout ?? asBefore.layout
  const config = loadConfig(file, { cacheFile: ctx.home.configCache, ...asBefore, layout })
  const only = servingNames(config, csv(values.only))
  const started = Date.now()
  const io = commandIO(ctx)
  const say = (line: string) => ctx.stdout.write(`${line}\n`)
  if (only) {
    const { plan, servers, instances } = onlyPlan(config, only, state, configPath)
    // A stack started with --watch keeps watching when its supervisor is replaced.
    if (state?.plan.watch) plan.watch = true
    const targets = [...new Set(only)]
    const rolled = await restartRolling(plan, servers, io, say, targets)
    if (rolled) printRestarted(rolled, ctx.stdout)
    else if (instances.length)
      throw usageError(
        `--only ${instances.join(',')}: one instance is restarted by the running supervisor, and none answers here` +
          `; restart its server instead (--only ${servers.join(',')})`,
      )
    else await restartServers(plan, servers, io)
    ctx.stdout.write(`restarted ${only.join(', ')} in ${Date.now() - started} ms\n`)
    return 0
  }
  const plan = { ...resolvePlan(config), configPath, ...(state?.plan.watch ? { watch: true as const } : {}) }
  const rolled = await restartRolling(plan, undefined, io, say)
  if (rolled) {
    printRestarted(rolled, ctx.stdout)
    const reloaded = rolled.restarted.some((r) => r.drained) ? '; nginx reloaded, not restarted' : ''
    const count = plural(rolled.restarted.length, 'process', 'processes')
    ctx.stdout.write(`restarted ${count} in ${Date.now() - started} ms${reloaded}\n`)
    return 0
  }
  if (!(await restartStack(plan, io, (stopped) => printStopReport(stopped, ctx.stdout, ctx.stderr)))) return 1
  ctx.stdout.write(`restarted ${plural(processCount(plan), 'process', 'processes')} in ${Date.now() - started} ms\n`)
  return 0
}
