// A stack's status: each recorded process alive or not, healthy or not, its uptime, restarts, CPU and memory.
import { cpuKey, cpuTargets, recentCpu } from './cpu.ts'
import type { Home } from '../core/home.ts'
import { readLastFailure, type LastFailure } from './last-failure.ts'
import { unifiedLogBehind } from '../logs/behind.ts'
import { specOf, type ProcessSpec, type Readiness } from '../config/plan.ts'
import { bootTimeMs, isSameProcess, processTable } from '../os/platform.ts'
import { CLOCK_TICKS, rssBytes, treeOf, type ProcStat } from '../os/procfs.ts'
import { probe, type ProbeResult } from '../probe/readiness.ts'
import { readState, supervisorAlive, type StackState } from './state.ts'
import { type ProcessRecord, type ProcessState } from '../os/process-record.ts'

export interface ProcessStatus {
  // name-instance, as in the logs; `name` and `instance` apart for scripts reading --json.
  id: string
  name: string
  instance: number
  kind: 'server' | 'proxy' | 'supervisor'
  pid: number
  port: number | null
  // 'stopped (signal)': alive but stopped by SIGSTOP (or Ctrl+Z), so it answers nothing.
  state: ProcessState | 'gone' | 'stopped (signal)'
  health: string
  healthy: boolean
  uptimeMs: number | null
  restarts: number
  cpuPercent: number | null
  rssBytes: number | null
  lastExit: string | null
  // A task's exit code once it ended with one (state completed or failed).
  exitCode?: number
  // Why the supervisor last restarted (or stopped) it on its own: failing health checks, memory over max_memory.
  restartReason?: string | null
  // The changed file that made `start --watch` restart it last (relative to the config's folder).
  watchTrigger?: string
}

export interface StackStatus {
  running: boolean
  home: string
  config: string | null
  processes: ProcessStatus[]
  // Set while the unified log cannot be written (a full disk): it misses lines the processes' own files hold.
  logBehind?: { reason: string; unreadBytes: number } | null
  healthy: boolean
  // Why the last start failed (a background start nobody watched); gone once a start succeeds.
  lastFailure?: LastFailure
}

const PROBE_TIMEOUT_MS = 500

const NO_USAGE = { cpuPercent: null, rssBytes: null, uptimeMs: null }

// CPU over the process's lifetime (as ps reports it) and RSS, both summed over its whole tree; undefined when
// the table does not list it.
function usage(pid: number, table: ProcStat[], boot: number, now: number, wholeTree = true) {
  const tree = wholeTree ? treeOf(pid, table) : table.filter((p) => p.pid === pid)
  const root = tree[0]
  if (!root) return undefined
  const startedMs = boot + (Number(root.startTime) * 1000) / CLOCK_TICKS
  const uptimeMs = Math.max(1, now - startedMs)
  const cpuMs = (tree.reduce((sum, p) => sum + p.cpuTicks, 0) * 1000) / CLOCK_TICKS
  return {
    cpuPercent: Math.round((cpuMs / uptimeMs) * 1000) / 10,
    rssBytes: rssBytes(tree),
    uptimeMs,
  }
}

// How a recorded process is probed: the proxy on its front port; a server as its spec says.
function probeOf(state: StackState, record: ProcessRecord, spec: ProcessSpec | undefined) {
  if (record.kind === 'proxy') return { readiness: { kind: 'tcp' } as Readiness, host: state.plan.proxy.host }
  return { readiness: spec?.readiness ?? { kind: 'tcp' }, host: spec?.host ?? '127.0.0.1' }
}

// A paused process is not probed: stopped as `pause` left it, or continued by someone else's signal.
const pausedHealth = (stopped: boolean) => (stopped ? 'paused' : 'continued by a signal, still out of rotation')

// The probe's answer; "-" when there was none (not alive, or stopped by a signal).
function checkedHealth(checked: ProbeResult | undefined, readiness: Readiness): string {
  if (!checked) return '-'
  if (!checked.ok) return checked.detail
  return readiness.kind === 'none' ? 'alive' : 'ok'
}

export async function collectStatus(home: Home, now = Date.now()): Promise<StackStatus> {
  const state = readState(home)
  const lastFailure = readLastFailure(home)
  if (!state)
    return {
      running: false,
      home: home.root,
      config: null,
      processes: [],
      logBehind: null,
      healthy: false,
      lastFailure,
    }
  const table = processTable()
  const boot = bootTimeMs()
  const supervisorUp = supervisorAlive(state)
  // Rows follow the plan's start order, the proxy last, however the records were written (restart --only appends).
  const order = new Map(state.plan.processes.map((p, i) => [p.id, i]))
  const rank = (r: ProcessRecord) => (r.kind === 'proxy' ? Infinity : (order.get(r.id) ?? order.size))
  const records = [...state.processes].sort((a, b) => rank(a) - rank(b))
  // Started before the probes, so a sample of its own (no supervisor) overlaps them.
  const watcher = supervisorUp ? state.supervisor : undefined
  const recent = recentCpu(home, watcher, cpuTargets(state, watcher))
  const rows = await Promise.all(
    records.map(async (record): Promise<ProcessStatus> => {
      const alive = record.pid > 0 && isSameProcess(record.pid, record.startTime)
      const signalStopped = alive && table.find((p) => p.pid === record.pid)?.state === 'T'
      // Paused on purpose: stopped, so it is not probed (a probe would only time out).
      const paused = alive && record.state === 'paused'
      const spec = specOf(state.plan, record.id)
      const { readiness, host } = probeOf(state, record, spec)
      const checked =
        alive && !signalStopped && !paused ? await probe(readiness, host, record.port, PROBE_TIMEOUT_MS) : undefined
      // Without a live supervisor nobody updates the recorded state, so a dead process is just gone.
      // A task that ran to its end says how, with or without a supervisor.
      const ended = record.state === 'completed' || record.state === 'failed'
      const recorded: ProcessStatus['state'] = alive
        ? record.state
        : ended ||
            record.state === 'crashed' ||
            (supervisorUp && record.state !== 'running' && record.state !== 'paused')
          ? record.state
          : 'gone'
      const shown = signalStopped && !paused ? 'stopped (signal)' : recorded
      return {
        id: record.id,
        name: record.server,
        instance: spec?.instance ?? 0,
        kind: record.kind,
        pid: record.pid,
        port: record.port ?? null,
        state: shown,
        health: paused
          ? pausedHealth(signalStopped)
          : ended && !alive
            ? `exit ${record.exitCode ?? '?'}`
            : checkedHealth(checked, readiness),
        // A completed task did its work: no failure of the stack.
        healthy: (Boolean(checked?.ok) && record.state === 'running') || (!alive && record.state === 'completed'),
        restarts: record.restarts,
        lastExit: record.lastExit ?? null,
        ...(record.exitCode === undefined ? {} : { exitCode: record.exitCode }),
        restartReason: record.restartReason ?? null,
        ...(record.watchTrigger ? { watchTrigger: record.watchTrigger } : {}),
        ...((alive && usage(record.pid, table, boot, now)) || {
          ...NO_USAGE,
          uptimeMs: alive ? now - record.startedAt : null,
        }),
      }
    }),
  )
  const supervisor: ProcessStatus = {
    id: 'supervisor',
    name: 'supervisor',
    instance: 0,
    kind: 'supervisor',
    pid: state.supervisor.pid,
    port: null,
    state: supervisorUp ? 'running' : 'gone',
    health: supervisorUp ? 'alive' : 'gone',
    healthy: supervisorUp,
    restarts: 0,
    restartReason: null,
    lastExit: supervisorUp
      ? null
      : 'the supervisor is gone: servers keep running but crashes are not restarted; "start" re-adopts them, "stop" stops them',
    // Its own memory only: servers it restarted are its children but are shown on their own rows.
    ...((supervisorUp && usage(state.supervisor.pid, table, boot, now, false)) || NO_USAGE),
  }
  const processes = [supervisor, ...rows]
  const cpu = await recent
  ;[state.supervisor, ...records].forEach((r, i) => {
    const figure = cpu?.get(cpuKey(r))
    if (figure !== undefined && processes[i].cpuPercent !== null) processes[i].cpuPercent = figure
  })
  const logBehind = unifiedLogBehind(home) ?? null
  // A paused process was paused on purpose: not a failure (status says it is paused).
  const healthy = processes.every((p) => p.healthy || p.state === 'paused') && !logBehind
  return { running: true, home: home.root, config: state.plan.file, processes, logBehind, healthy, lastFailure }
}

export function statusExitCode(status: StackStatus): number {
  if (!status.running) return status.lastFailure ? 1 : 3
  return status.healthy ? 0 : 1
}
