// restart --only: which plan it runs, and stopping exactly the named servers while the rest keeps running; with a live
// supervisor running that very plan, the supervisor restarts them itself, one instance at a time.
import fs from 'node:fs'
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import type { Config } from '../config/types.ts'
import { resolvePlan, selectServers, type Plan } from '../config/plan.ts'
import { readState, supervisorAlive, writeState, type StackState } from './state.ts'
import { commandSupervisor, controlSocketPath } from './control-client.ts'
import type { Restarted } from './rolling.ts'
import { runsPlan } from './start.ts'
import { stopProcesses } from '../os/terminate.ts'
import { quietSupervisor, targetsOf, waitSupervisorExit } from './stop.ts'

// Exactly the named servers are restarted; the plan keeps what runs and what they depend on, which is adopted.
// Refuses unknown names (exit 2) before anything is stopped.
export function onlyPlan(
  config: Config,
  only: string[],
  state: StackState | undefined,
  configPath: string,
): { plan: Plan; servers: string[] } {
  selectServers(config.servers, only, config.file)
  const servers = [...new Set(only)]
  const known = new Set(config.servers.map((s) => s.name))
  const running = (state?.plan.processes.map((p) => p.server) ?? []).filter((name) => known.has(name))
  return { plan: { ...resolvePlan(config, [...new Set([...running, ...servers])]), configPath }, servers }
}

// The supervisor hands its watch back (SIGUSR2: it exits and leaves every process running); then only these
// servers are stopped and dropped from the state, for the next start to start them again and adopt the rest.
export async function stopOnly(home: Home, servers: string[], onWait?: (what: string) => void): Promise<void> {
  const before = readState(home)
  if (!before) throw new BackendManagerError('NOT_FOUND', `nothing is running from ${home.root}; use "start"`)
  let state = await quietSupervisor(home, before, 'SIGUSR2')
  await waitSupervisorExit(state)
  const report = await stopProcesses(targetsOf(state, new Set(servers)), { runId: state.runId, onWait })
  if (report.survivors.length)
    throw new BackendManagerError('STOP_FAILED', `could not stop:\n${report.survivors.join('\n')}`)
  state = readState(home) ?? state
  state.processes = state.processes.filter((p) => !servers.includes(p.server))
  state.supervisor = { pid: 0, startTime: '' }
  writeState(home, state)
}

// A running stack whose supervisor serves its socket and runs exactly this plan can restart its instances in place;
// anything else (no supervisor, one still bringing the stack up, another config) takes the stop-and-start path.
export function canRestartLive(home: Home, plan: Plan): boolean {
  const state = readState(home)
  return (
    state !== undefined &&
    state.phase === 'running' &&
    supervisorAlive(state) &&
    runsPlan(state, plan) &&
    fs.lstatSync(controlSocketPath(home), { throwIfNoEntry: false })?.isSocket() === true
  )
}

export interface RollingAnswer {
  restarted: Restarted[]
  ms: number
}

// POST /v1/restart: the supervisor restarts these servers or instances (every server when none are named).
export async function restartLive(home: Home, targets?: string[]): Promise<RollingAnswer> {
  const answer = await commandSupervisor(home, '/v1/restart', targets ? { targets } : {})
  return { restarted: (answer.restarted ?? []) as Restarted[], ms: Number(answer.ms) }
}
