// stop, kept apart from start so that `stop` loads only what it needs (it runs often and should be quick).
import fs from 'node:fs'
import path from 'node:path'
import type { Home } from './home.ts'
import { acquireLock } from './lock.ts'
import { offsetsPath } from './log-paths.ts'
import { proxyListeners } from './plan.ts'
import type { Endpoint } from './ports.ts'
import { escapedProcesses, killPid } from './procs.ts'
import { commandArgs, hasProcfs, processTable, type ProcStat } from './procfs.ts'
import { resumePaused } from './rotate.ts'
import { sleep } from './sleep.ts'
import { readState, removeState, supervisorAlive, supervisorTag, type ProcessRecord, type StackState } from './state.ts'
import { stopProcesses, type StopReport, type StopTarget } from './stop.ts'

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

// Every port the stack may hold: what the state lists, the plan's servers and every port of the proxy.
export function stackEndpoints(state: StackState): Endpoint[] {
  const plan = state.plan
  const { http, grpc } = proxyListeners(plan.proxy, plan.upstreams ?? [])
  const proxy = [http, grpc, plan.proxy.type === 'envoy' ? plan.proxy.admin_port : undefined]
  const hostOf = (port: number) => plan.processes.find((p) => p.port === port)?.host ?? plan.proxy.host
  const ports = new Set([...(state.ports ?? []), ...plan.processes.map((p) => p.port), ...proxy].filter((p): p is number => typeof p === 'number'))
  return [...ports].map((port) => ({ port, host: hostOf(port) }))
}

// Supervisors of this run other than the recorded one (a start killed before it recorded the one it
// spawned): they would start again what is being stopped. SIGKILL is safe: the servers do not depend on them.
async function stopStraySupervisors(state: StackState): Promise<void> {
  if (!hasProcfs) return
  const stray = escapedProcesses(state.runId, new Set(), processTable()).filter((e) => e.tag === supervisorTag(state.runId) && e.stat.pid !== state.supervisor.pid)
  for (const s of stray) killPid(s.stat.pid, 'SIGKILL')
  const deadline = Date.now() + 2000
  while (Date.now() < deadline && stray.some((s) => processTable().some((p) => p.pid === s.stat.pid && p.startTime === s.stat.startTime))) await sleep(5)
}

// An nginx the records do not name (started by a start killed before it recorded it): nginx overwrites its
// environment with its title, so it is found by this home's config file on its command line instead.
function unrecordedProxies(home: Home, state: StackState, table: ProcStat[]): StopTarget[] {
  const conf = path.resolve(home.nginxConf)
  const known = new Set(state.processes.map((p) => p.pgid))
  return table
    .filter((p) => p.comm === 'nginx' && p.pid === p.pgrp && !known.has(p.pgrp) && commandArgs(p.pid).join(' ').split(' ').some((a, i, all) => a === conf && all[i - 1] === '-c'))
    .map((p) => {
      const record: ProcessRecord = { id: `nginx (pid ${p.pid}, not recorded)`, kind: 'proxy', server: 'nginx', pid: p.pid, pgid: p.pgrp, startTime: p.startTime, startedAt: 0, state: 'running', restarts: 0, logFile: '' }
      return { record, stopTimeoutMs: 3000, dependsOn: [] }
    })
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
    await stopStraySupervisors(state)
    const stray = hasProcfs ? unrecordedProxies(io.home, state, processTable()) : []
    const report = await stopProcesses([...targetsOf(state), ...stray], { runId: state.runId, onWait, wholeRun: true, ports: stackEndpoints(state) })
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

