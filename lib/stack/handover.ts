// The detached supervisor: spawned early, given the run through the state file, followed by the start command
// (its progress, until all is ready or failed) or left to work alone (--no-wait), so the terminal is free.
import fs from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { BackendManagerError, type ErrorCode } from '../core/errors.ts'
import { ensureHome, packageRoot, type Home } from '../core/home.ts'
import { sleep } from '../core/sleep.ts'
import type { Plan } from '../config/plan.ts'
import { startTimeOf } from '../os/platform.ts'
import { openAppend } from '../core/safe-files.ts'
import { readState, removeState, writeState, type StackState } from './state.ts'
import { HOME_ENV, RUN_ENV, supervisorTag } from '../os/process-record.ts'
import { registerStack } from './registry.ts'
import { ensureProxy, newRunId, type LifecycleIO } from './start.ts'
import { clearLastFailure } from './last-failure.ts'
import { createStartProgress, removeStartProgress, startProgressReader } from './start-progress.ts'
import { stopRecorded } from './stop.ts'

const PROGRESS_POLL_MS = 20

type FollowIO = LifecycleIO & { onWait?: (what: string) => void }

// The supervisor waits (see supervise.ts) until the state file names it: the run it is given.
export function spawnSupervisor(home: Home, env: NodeJS.ProcessEnv, runId: string): ChildProcess {
  ensureHome(home)
  const out = openAppend(home.supervisorLog)
  const child = spawn(
    process.execPath,
    [path.join(packageRoot, 'bin', 'backend-manager.js'), '--home', home.root, 'supervise'],
    {
      detached: true,
      stdio: ['ignore', out, out],
      // Tagged like the servers, so a stop can tell it from an unrelated process on a reused pid.
      env: { ...env, [RUN_ENV]: supervisorTag(runId), [HOME_ENV]: home.root },
      cwd: home.root,
    },
  )
  fs.closeSync(out)
  child.unref()
  return child
}

// The stack is brought up by the supervisor spawned before the checks; this command shows its progress and returns
// once everything is ready. On a failure the supervisor stops it all and says why; on Ctrl+C this command stops it.
export async function bringUpDetached(
  supervisor: ChildProcess,
  runId: string,
  plan: Plan,
  previous: StackState | undefined,
  io: FollowIO,
): Promise<number> {
  try {
    await ensureProxy(plan, io)
    createStartProgress(io.home)
  } catch (error) {
    cancelSupervisor(supervisor)
    throw error
  }
  const pid = supervisor.pid!
  const alive = () => supervisor.exitCode === null && supervisor.signalCode === null
  // Until it is ready this command waits for it: its exit must be seen, and must keep this process alive to see it.
  supervisor.ref()
  const read = startProgressReader(io.home)
  let interrupted = false
  const interrupt = () => (interrupted = true)
  // Ctrl+C (or a closed terminal) while waiting must not leave half a stack running.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  for (const signal of signals) process.on(signal, interrupt)
  try {
    const state: StackState = {
      ...(previous ?? emptyState(plan, runId)),
      plan,
      phase: 'starting',
      supervisor: { pid, startTime: startTimeOf(pid) ?? 'unknown' },
    }
    // Naming the supervisor in the state file gives it the run: it starts bringing it up now.
    writeState(io.home, state)
    registerStack(io.home, state, io.env)
    for (;;) {
      // Read before the liveness check: a supervisor that ended has written its last event by then.
      const exited = !alive()
      for (const e of read()) {
        if (e.type === 'up') return pid
        if (e.type === 'stopping') io.notice?.('stopping what was started')
        else if (e.type === 'failed') {
          await untilExited(supervisor)
          // Said here, as it happens; `status` keeps a failure only for a start nobody watched.
          clearLastFailure(io.home)
          giveBack(io.home, pid, previous)
          throw new BackendManagerError(e.code as ErrorCode, e.message)
        } else io.progress?.(e)
      }
      if (interrupted) throw await stopAfter(io, 'start interrupted; nothing is left running')
      if (exited)
        throw await stopAfter(io, `the supervisor (pid ${pid}) ended during the start; see ${io.home.supervisorLog}`)
      await sleep(PROGRESS_POLL_MS)
    }
  } finally {
    for (const signal of signals) process.off(signal, interrupt)
    supervisor.unref()
    removeStartProgress(io.home)
  }
}

// Stops whatever the run recorded, as `stop` does; the error says why, or what survived.
async function stopAfter(io: FollowIO, reason: string): Promise<BackendManagerError> {
  io.notice?.('stopping what was started')
  const { report } = await stopRecorded(io, io.onWait)
  const survivors = report?.survivors ?? []
  if (survivors.length === 0) return new BackendManagerError('START_FAILED', reason)
  return new BackendManagerError('STOP_FAILED', `${reason.split(';')[0]}; still running:\n${survivors.join('\n')}`)
}

// A supervisor that could not even take the run over left the state as it was given: it is put back as it was.
function giveBack(home: Home, pid: number, previous: StackState | undefined): void {
  try {
    if (readState(home)?.supervisor.pid !== pid) return
    if (previous) writeState(home, previous)
    else removeState(home)
  } catch {
    // Unreadable or unwritable: `stop` and `status` say so.
  }
}

async function untilExited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise((resolve) => child.once('exit', resolve))
}

// Cancels a supervisor that was never given a run (the checks failed): it is still this process's child.
export function cancelSupervisor(child: ChildProcess): void {
  child.kill('SIGKILL')
}

// start --no-wait: nothing is started here; the supervisor brings everything up itself, from the plan in the state.
export async function handOverUnstarted(
  plan: Plan,
  previous: StackState | undefined,
  io: LifecycleIO,
): Promise<number> {
  // A missing proxy binary (nginx, envoy) is installed or reported now, not later by the background supervisor.
  await ensureProxy(plan, io)
  const state: StackState = {
    ...(previous ?? emptyState(plan, newRunId())),
    plan,
    phase: 'starting',
    supervisor: { pid: 0, startTime: '' },
  }
  writeState(io.home, state)
  // Nobody follows this bring-up: no progress is reported.
  removeStartProgress(io.home)
  const pid = spawnSupervisor(io.home, io.env, state.runId).pid!
  // Recorded before the lock is released: a start or stop right after this one must see the supervisor at work.
  if (readState(io.home)?.supervisor.pid === 0)
    writeState(io.home, { ...state, supervisor: { pid, startTime: startTimeOf(pid) ?? 'unknown' } })
  registerStack(io.home, state, io.env)
  return pid
}

function emptyState(plan: Plan, runId: string): StackState {
  return {
    version: 1,
    runId,
    phase: 'starting',
    startedAt: Date.now(),
    supervisor: { pid: 0, startTime: '' },
    plan,
    ports: [],
    processes: [],
  }
}
