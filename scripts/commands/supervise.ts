// The detached supervisor: adopts what the state file lists (starting whatever is missing), then
// restarts crashed processes and builds the unified log until a stop or a handover.
import fs from 'node:fs'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './supervise.meta.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { cpuTargets, recordCpu } from '../../lib/stack/cpu.ts'
import { startTimeOf } from '../../lib/os/procfs.ts'
import { makeProxy } from '../../lib/proxy/process.ts'
import { sleep } from '../../lib/core/sleep.ts'
import { readState, removeState } from '../../lib/stack/state.ts'
import { Stack } from '../../lib/stack/stack.ts'
import { writeLastFailure, type LastFailure } from '../../lib/stack/last-failure.ts'

export async function run(_parsed: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const fd = (ctx.stdout as { fd?: unknown }).fd
  const log = (line: string) => {
    const text = `${new Date().toISOString()} ${line}\n`
    // One write per note, straight to the file: a full disk loses that note, never the supervisor.
    if (typeof fd !== 'number') return void ctx.stdout.write(text)
    try {
      fs.writeSync(fd, text)
    } catch {
      // No room for it.
    }
  }
  const previous = readState(ctx.home)
  if (!previous) throw new BackendManagerError('NOT_FOUND', `no state file at ${ctx.home.state}; nothing to supervise`)
  const stack = new Stack({
    home: ctx.home,
    plan: previous.plan,
    env: ctx.env,
    runId: previous.runId,
    proxy: makeProxy(ctx.home, previous.plan, ctx.env),
    previous,
    log,
    progress: (e) =>
      log(
        `${e.id}: ${e.type}${'reason' in e ? ` (${e.reason})` : ''}${e.type === 'restarting' ? `; again in ${e.delayMs} ms` : ''}`,
      ),
  })
  // Set by the signal handlers below, so the type is spelled out rather than narrowed to 'run'.
  let mode = 'run' as 'run' | 'stop' | 'handover'
  let wake = () => {}
  const signalled = new Promise<void>((resolve) => (wake = resolve))
  // SIGTERM: a stop command is taking everything down; keep collecting logs until it is all gone.
  process.on('SIGTERM', () => {
    mode = 'stop'
    stack.beginStopping()
    wake()
  })
  // SIGUSR2: another command takes over (restart --only); leave every process running.
  process.on('SIGUSR2', () => {
    mode = 'handover'
    wake()
  })
  process.on('SIGINT', () => {})
  process.on('SIGHUP', () => {})
  log(`supervisor ${process.pid} taking over ${previous.processes.length} recorded processes`)
  // status shows CPU over the last few seconds from this file, not the lifetime average.
  const self = { pid: process.pid, startTime: startTimeOf(process.pid) ?? 'unknown' }
  const cpu = recordCpu(ctx.home, self, () => cpuTargets(stack.state, self))
  try {
    await stack.bringUp()
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    log(`start failed: ${reason}`)
    // Nobody may be watching this start (--no-wait): kept for `status`, unless a stop ended it on purpose.
    const failure = { at: Date.now(), config: previous.plan.file, ...(stack.failed ?? { reason }) }
    if (mode !== 'stop') recordFailure(ctx, failure, log)
    await stack.stopAll()
    removeState(ctx.home)
    return 1
  }
  log('all processes ready')
  if (mode === 'run') {
    // Woken by the signal itself, not by a poll: the stop command waits for this process to exit.
    // The interval only keeps the process alive until then; nothing is left to delay the exit.
    const keepAlive = setInterval(() => {}, 1 << 30)
    await signalled
    clearInterval(keepAlive)
  }
  if (mode === 'stop') {
    const deadline = Date.now() + 60_000
    while (!stack.allGone() && Date.now() < deadline) await sleep(10)
  }
  cpu.stop()
  stack.close()
  log(`supervisor exiting (${mode})`)
  return 0
}

function recordFailure(ctx: Context, failure: LastFailure, log: (line: string) => void): void {
  try {
    writeLastFailure(ctx.home, failure)
  } catch (error) {
    log(`could not record the failure for "status": ${(error as Error).message}`)
  }
}
