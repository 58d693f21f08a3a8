// Handing a started stack over to a detached supervisor, so the command can return and the terminal is free.
import fs from 'node:fs'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { ensureHome, packageRoot, type Home } from '../core/home.ts'
import type { Plan } from '../config/plan.ts'
import { startTimeOf } from '../os/platform.ts'
import { openAppend } from '../core/safe-files.ts'
import { readState, writeState, type StackState } from './state.ts'
import { HOME_ENV, RUN_ENV, supervisorTag } from '../os/process-record.ts'
import { registerStack } from './registry.ts'
import type { Stack } from './stack.ts'
import { ensureProxy, newRunId, type LifecycleIO } from './start.ts'

export function spawnSupervisor(home: Home, env: NodeJS.ProcessEnv, runId: string): number {
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
  return child.pid!
}

// The stack this process brought up stops being watched here and is adopted by a detached supervisor.
export function handOver(stack: Stack, io: LifecycleIO): number {
  stack.close()
  const pid = spawnSupervisor(io.home, io.env, stack.state.runId)
  stack.state.supervisor = { pid, startTime: startTimeOf(pid) ?? 'unknown' }
  stack.save()
  return pid
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
    ...(previous ?? emptyState(plan)),
    plan,
    phase: 'starting',
    supervisor: { pid: 0, startTime: '' },
  }
  writeState(io.home, state)
  const pid = spawnSupervisor(io.home, io.env, state.runId)
  // Recorded before the lock is released: a start or stop right after this one must see the supervisor at work.
  if (readState(io.home)?.supervisor.pid === 0)
    writeState(io.home, { ...state, supervisor: { pid, startTime: startTimeOf(pid) ?? 'unknown' } })
  registerStack(io.home, state, io.env)
  return pid
}

function emptyState(plan: Plan): StackState {
  return {
    version: 1,
    runId: newRunId(),
    phase: 'starting',
    startedAt: Date.now(),
    supervisor: { pid: 0, startTime: '' },
    plan,
    ports: [],
    processes: [],
  }
}
