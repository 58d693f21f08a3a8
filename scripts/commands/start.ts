import path from 'node:path'
import { DEFAULT_CONFIG, csv, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './start.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { bringUpHere, checkFreeSpace, preflight, startDetached } from '../../lib/stack/start.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { describeProxy, processCount } from '../../lib/proxy/process.ts'
import { allReady, progressPrinter, printStopReport } from '../../lib/cli/progress.ts'
import { acquireLock } from '../../lib/os/lock.ts'
import { readState, removeState } from '../../lib/stack/state.ts'
import { FileFollower, FollowSet } from '../../lib/logs/follow.ts'
import { fileSize, unifiedLogPath } from '../../lib/logs/paths.ts'

const LOG_TICK_MS = 100

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const file = positionals[0] ?? DEFAULT_CONFIG
  const config = loadConfig(file, { cacheFile: ctx.home.configCache })
  const plan = { ...resolvePlan(config, csv(values.only)), configPath: path.resolve(ctx.cwd, file) }
  const started = Date.now()
  const io = {
    home: ctx.home,
    env: ctx.env,
    progress: progressPrinter(ctx.stdout, ctx.env),
    notice: (l: string) => ctx.stderr.write(`${l}\n`),
  }
  if (values.foreground) return runForeground(plan, io, ctx)
  const { supervisorPid, already } = await startDetached({ plan, noWait: values['no-wait'] }, io)
  if (already) {
    const what = `already ${already} with this config (${plan.file}, supervisor pid ${supervisorPid})`
    ctx.stdout.write(`${what}; "status" shows it, "restart" restarts it\n`)
    return 0
  }
  ctx.stdout.write(
    values['no-wait']
      ? `starting in the background (supervisor pid ${supervisorPid}); see "backend-manager status"\n`
      : `${allReady(processCount(plan))} in ${Date.now() - started} ms` +
          `${plan.proxy.type === 'none' ? '' : `; ${describeProxy(plan)}`} (supervisor pid ${supervisorPid})\n`,
  )
  return 0
}

async function runForeground(
  plan: ReturnType<typeof resolvePlan>,
  io: Parameters<typeof bringUpHere>[1],
  ctx: Context,
): Promise<number> {
  checkFreeSpace(ctx.home)
  const lock = acquireLock(ctx.home, 'start --foreground')
  // The terminal shows this run's unified log, as foreman does, from where the file ends now.
  const unified = new FollowSet(
    ctx.home,
    [new FileFollower(unifiedLogPath(ctx.home), fileSize(unifiedLogPath(ctx.home)))],
    (_file, lines) => ctx.stdout.write(lines.join('\n') + '\n'),
  )
  let stack: Awaited<ReturnType<typeof bringUpHere>>
  // Listening before the bring-up's own handlers go: with no listener at all, a Ctrl+C would kill this
  // process outright and leave the stack running unwatched.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  try {
    // The same checks as a detached start: never adopt a stack another supervisor watches, never start onto a busy port.
    const previous = await preflight(ctx.home, plan, readState(ctx.home), io.notice)
    stack = await bringUpHere(plan, io, previous)
  } finally {
    lock.release()
  }
  ctx.stdout.write(`${allReady(processCount(plan))}; Ctrl+C stops everything\n`)
  unified.tick()
  const tail = setInterval(() => unified.tick(), LOG_TICK_MS)
  await stopRequested
  ctx.stdout.write('\nstopping...\n')
  const started = Date.now()
  const report = await stack.stopAll({ onWait: (what) => ctx.stderr.write(`waiting for ${what}\n`) })
  // The servers' last words (written while they shut down) still reach the terminal.
  clearInterval(tail)
  unified.tick()
  for (const follower of unified.followers) follower.close()
  if (report.survivors.length === 0) removeState(ctx.home)
  return printStopReport({ wasRunning: true, report, ms: Date.now() - started }, ctx.stdout, ctx.stderr)
}
