// stop, kept apart from start so that `stop` loads only what it needs (it runs often and should be quick).
import fs from 'node:fs'
import type { Home } from './home.ts'
import { acquireLock } from './lock.ts'
import { offsetsPath } from './log-paths.ts'
import { resumePaused } from './rotate.ts'
import { sleep } from './sleep.ts'
import { readState, removeState, supervisorAlive, type StackState } from './state.ts'
import { stopProcesses, type StopReport } from './stop.ts'

// Tells a live supervisor to stop restarting, and waits (briefly) until it says so in the state file.
export async function quietSupervisor(home: Home, state: StackState, signal: 'SIGTERM' | 'SIGUSR2'): Promise<StackState> {
  if (!supervisorAlive(state)) return state
  process.kill(state.supervisor.pid, signal)
  const deadline = Date.now() + 1000
  while (Date.now() < deadline) {
    const now = readState(home)
    if (!now || now.phase === 'stopping' || !supervisorAlive(state)) return now ?? state
    await sleep(1)
  }
  return readState(home) ?? state
}

export async function waitSupervisorExit(state: StackState): Promise<void> {
  const deadline = Date.now() + 2000
  while (supervisorAlive(state) && Date.now() < deadline) await sleep(5)
  if (supervisorAlive(state)) process.kill(state.supervisor.pid, 'SIGKILL')
}

export function targetsOf(state: StackState, servers?: Set<string>) {
  const specs = new Map(state.plan.processes.map((p) => [p.id, p]))
  return state.processes
    .filter((r) => !servers || servers.has(r.server))
    .map((record) => ({
      record,
      host: record.kind === 'proxy' ? state.plan.proxy.host : specs.get(record.id)?.host,
      stopTimeoutMs: specs.get(record.id)?.stopTimeoutMs ?? 3000,
      dependsOn: specs.get(record.id)?.dependsOn ?? [],
    }))
}

export interface StopResult {
  wasRunning: boolean
  report?: StopReport
  ms: number
}

// stop: works with or without a live supervisor; the state is removed only once everything is gone.
export async function stopStack(io: { home: Home }, onWait?: (what: string) => void): Promise<StopResult> {
  const started = Date.now()
  const lock = acquireLock(io.home, 'stop')
  try {
    const before = readState(io.home)
    if (!before) return { wasRunning: false, ms: Date.now() - started }
    const state = await quietSupervisor(io.home, before, 'SIGTERM')
    // A writer killed mid-rotation may have left a process group stopped; a stopped process ignores SIGTERM.
    resumePaused(io.home, state)
    const report = await stopProcesses(targetsOf(state), { runId: state.runId, onWait })
    await waitSupervisorExit(state)
    if (report.survivors.length === 0) {
      removeState(io.home)
      fs.rmSync(offsetsPath(io.home), { force: true })
      fs.rmSync(io.home.nginxPid, { force: true })
    }
    return { wasRunning: true, report, ms: Date.now() - started }
  } finally {
    lock.release()
  }
}

