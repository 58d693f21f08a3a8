// The `start` command: the stack brought up and left in the background, or kept in this terminal (--foreground).
import path from 'node:path'
import { DEFAULT_CONFIG, csv, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './start.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { portOffsetOf } from '../../lib/config/port-offset.ts'
import { startForeground, startStack } from '../../lib/stack/run.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { describeProxy, processCount } from '../../lib/proxy/process.ts'
import { allReady, printStopReport } from '../../lib/cli/progress.ts'
import { commandIO } from '../../lib/cli/command-io.ts'
import { unifiedLogBehind } from '../../lib/logs/behind.ts'
import { usageError } from '../../lib/core/errors.ts'
import type { Plan } from '../../lib/config/plan.ts'

// --watch on a config where no server says what to watch would watch nothing: said, rather than ignored.
function watchable(plan: Plan): true {
  if (plan.processes.some((p) => p.watch)) return true
  throw usageError(
    `--watch: no server in ${plan.file} has "watch:", expected at least one` +
      ` (add watch: [src] to a server: the folders or globs whose changes restart it)`,
  )
}

// Where requests go: the proxy, or in the single layout the one process serving every module.
function front(plan: Plan): string {
  if (plan.proxy.type !== 'none') return `; ${describeProxy(plan)}`
  const root = plan.folded && plan.processes.find((p) => p.server === plan.folded!.into)
  return root ? `; every module on http://${root.host}:${root.port} (${root.id}, single layout)` : ''
}

const NODE_AS_INIT =
  'note: node is PID 1 here, and it never reaps orphaned processes (they stay zombies): make the backend-manager' +
  ' command (bin/backend-manager) the entrypoint, which stays as init, or run the container with --init\n'

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const file = positionals[0] ?? DEFAULT_CONFIG
  const portOffset = portOffsetOf(values['port-offset'], ctx.env)
  const config = loadConfig(file, { cacheFile: ctx.home.configCache, env: ctx.env, portOffset, layout: values.layout })
  const plan = { ...resolvePlan(config, csv(values.only)), configPath: path.resolve(ctx.cwd, file) }
  if (values.watch) plan.watch = watchable(plan)
  const started = Date.now()
  const io = commandIO(ctx)
  if (values.foreground) {
    // node at PID 1 (a container started without the backend-manager command) never reaps adopted orphans.
    if (process.pid === 1) ctx.stderr.write(NODE_AS_INIT)
    const stopped = await startForeground(plan, io, {
      lines: (lines) => ctx.stdout.write(lines.join('\n') + '\n'),
      ready: () => ctx.stdout.write(`${allReady(processCount(plan))}; Ctrl+C stops everything\n`),
      stopping: () => ctx.stdout.write('\nstopping...\n'),
    })
    return printStopReport(stopped, ctx.stdout, ctx.stderr)
  }
  const { supervisorPid, already } = await startStack({ plan, noWait: values['no-wait'] }, io)
  if (already) {
    const what = `already ${already} with this config (${plan.file}, supervisor pid ${supervisorPid})`
    ctx.stdout.write(`${what}; "status" shows it, "restart" restarts it\n`)
    return 0
  }
  ctx.stdout.write(
    values['no-wait']
      ? `starting in the background (supervisor pid ${supervisorPid}); see "backend-manager status"\n`
      : `${allReady(processCount(plan))} in ${Date.now() - started} ms` +
          `${front(plan)} (supervisor pid ${supervisorPid})\n`,
  )
  // The supervisor writes the unified log; what kept it from doing so during the bring-up is said here.
  const behind = values['no-wait'] ? undefined : unifiedLogBehind(ctx.home)
  if (behind) ctx.stderr.write(`note: the unified log is behind (${behind.reason}); "status" says when it caught up\n`)
  return 0
}
