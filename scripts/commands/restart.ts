import path from 'node:path'
import { DEFAULT_CONFIG, csv, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './restart.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { restartOnly, startDetached } from '../../lib/stack/start.ts'
import { stopStack } from '../../lib/stack/stop.ts'
import { resolvePlan, selectServers } from '../../lib/config/plan.ts'
import { progressPrinter, printStopReport } from '../../lib/cli/progress.ts'
import { readState, type StackState } from '../../lib/stack/state.ts'
import { noStackHere } from '../../lib/stack/registry.ts'
import { processCount } from '../../lib/proxy/process.ts'
import { plural } from '../../lib/core/words.ts'

// The config the running stack was started from (absolute since it was recorded).
function runningConfig(state: StackState, cwd: string): string {
  return state.plan.configPath ?? path.resolve(cwd, state.plan.file)
}

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const state = readState(ctx.home)
  // Nothing to restart here, and no config to start from: name the stacks that run elsewhere.
  if (!state && (positionals[0] === undefined || values.only !== undefined)) {
    ctx.stderr.write(`${noStackHere(ctx.home, ctx.env)}\n`)
    return 3
  }
  const file = positionals[0] ?? (state ? runningConfig(state, ctx.cwd) : DEFAULT_CONFIG)
  const config = loadConfig(file, { cacheFile: ctx.home.configCache })
  const configPath = path.resolve(ctx.cwd, file)
  const only = csv(values.only)
  const started = Date.now()
  const io = {
    home: ctx.home,
    env: ctx.env,
    progress: progressPrinter(ctx.stdout, ctx.env),
    notice: (l: string) => ctx.stderr.write(`${l}\n`),
  }
  const onWait = (what: string) => ctx.stderr.write(`waiting for ${what}\n`)
  if (only) {
    // Exactly the named servers are restarted; the plan keeps what runs and what they depend on, which is adopted.
    // Refuses unknown names (exit 2) before anything is stopped.
    selectServers(config.servers, only, config.file)
    const restarted = [...new Set(only)]
    const known = new Set(config.servers.map((s) => s.name))
    const running = (state?.plan.processes.map((p) => p.server) ?? []).filter((name) => known.has(name))
    const plan = { ...resolvePlan(config, [...new Set([...running, ...restarted])]), configPath }
    await restartOnly(plan, restarted, io, onWait)
    ctx.stdout.write(`restarted ${only.join(', ')} in ${Date.now() - started} ms\n`)
    return 0
  }
  const plan = { ...resolvePlan(config), configPath }
  const stopped = await stopStack(io, onWait)
  if (stopped.wasRunning && printStopReport(stopped, ctx.stdout, ctx.stderr) !== 0) return 1
  await startDetached({ plan }, io)
  ctx.stdout.write(`restarted ${plural(processCount(plan), 'process', 'processes')} in ${Date.now() - started} ms\n`)
  return 0
}
