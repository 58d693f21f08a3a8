import { DEFAULT_CONFIG, csv, parseFlags, type Context } from '../../lib/cli.ts'
import { loadConfig } from '../../lib/config.ts'
import { restartOnly, startDetached } from '../../lib/lifecycle.ts'
import { stopStack } from '../../lib/teardown.ts'
import { resolvePlan } from '../../lib/plan.ts'
import { progressPrinter, printStopReport } from '../../lib/progress.ts'
import { readState } from '../../lib/state.ts'
import { processCount } from '../../lib/proxy.ts'
import { plural } from '../../lib/words.ts'

export const usage = `Usage: backend-manager restart [CONFIG] [--only a,b]

Stops, waits until every port is released, and starts again. With --only, restarts just those
servers and leaves everything else running. CONFIG defaults to ${DEFAULT_CONFIG}.`

export async function run(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseFlags('restart', args, { only: { type: 'string' } })
  const config = loadConfig(positionals[0] ?? DEFAULT_CONFIG, { cacheFile: ctx.home.configCache })
  const only = csv(values.only)
  const started = Date.now()
  const io = { home: ctx.home, env: ctx.env, progress: progressPrinter(ctx.stdout, ctx.env), notice: (l: string) => ctx.stderr.write(`${l}\n`) }
  const onWait = (what: string) => ctx.stderr.write(`waiting for ${what}\n`)
  if (only) {
    // The named servers and what they depend on are restarted; the plan keeps everything that runs.
    const restarted = [...new Set(resolvePlan(config, only).processes.map((p) => p.server))]
    const running = readState(ctx.home)?.plan.processes.map((p) => p.server) ?? []
    const plan = resolvePlan(config, [...new Set([...running, ...restarted])])
    await restartOnly(plan, restarted, io, onWait)
    ctx.stdout.write(`restarted ${only.join(', ')} in ${Date.now() - started} ms\n`)
    return 0
  }
  const plan = resolvePlan(config)
  const stopped = await stopStack(io, onWait)
  if (stopped.wasRunning && printStopReport(stopped, ctx.stdout, ctx.stderr) !== 0) return 1
  await startDetached({ plan }, io)
  ctx.stdout.write(`restarted ${plural(processCount(plan), 'process', 'processes')} in ${Date.now() - started} ms\n`)
  return 0
}
