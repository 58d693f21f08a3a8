// Stopping processes: TERM then KILL in dependency waves, escaped descendants too, then waiting for their ports.
import { busyPorts, describeBusy, waitReleased, type Endpoint } from './ports.ts'
import { escapedProcesses, killPid, signalGroup, waitGone } from './process-groups.ts'
import { commandLine, groupMembers, processTable } from './platform.ts'
import { sleep } from '../core/sleep.ts'
import { supervisorTag, type ProcessRecord } from './process-record.ts'

export interface StopTarget {
  record: ProcessRecord
  // Where its port listens (the port is probed there after the stop); loopback when not given.
  host?: string
  stopTimeoutMs: number
  // Server names this process's server depends on: they stop after it.
  dependsOn: string[]
}

export interface StopReport {
  stopped: string[]
  // Needed SIGKILL after their stop_timeout.
  killed: string[]
  // Descendants that had left their process group, found by the run tag and stopped too.
  escaped: string[]
  // Still alive or still holding a port after everything: the stop failed.
  survivors: string[]
}

export interface StopOptions {
  runId: string
  pollMs?: number
  // Called about once a second while something is slow to go, with what it waits on.
  onWait?: (what: string) => void
  // Called as soon as a process and its whole group are gone.
  onStopped?: (id: string) => void
  // The whole stack is stopping: every process carrying the run's tag goes too (bar its supervisor), even
  // one no record names (a start killed between a spawn and its record).
  wholeRun?: boolean
  // Ports to find released besides the targets' own (the plan's and the proxy's).
  ports?: Endpoint[]
}

// What a stop takes from a process's spec; a record without one gets the defaults.
export interface StopSpec {
  host?: string
  stopTimeoutMs?: number
  dependsOn?: string[]
}

const DEFAULT_STOP_TIMEOUT_MS = 3000
const PORT_RELEASE_MS = 2000
const AFTER_KILL_MS = 2000

// The stop target of each record, with its host, stop_timeout and dependencies from its spec.
export function stopTargets(
  records: ProcessRecord[],
  specOf: (record: ProcessRecord) => StopSpec | undefined,
): StopTarget[] {
  return records.map((record) => {
    const spec = specOf(record)
    return {
      record,
      host: spec?.host,
      stopTimeoutMs: spec?.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
      dependsOn: spec?.dependsOn ?? [],
    }
  })
}

// Waves: the proxy first, then servers nothing else depends on, then what they depended on.
export function stopWaves(targets: StopTarget[]): StopTarget[][] {
  const waves: StopTarget[][] = []
  const proxy = targets.filter((t) => t.record.kind === 'proxy')
  if (proxy.length) waves.push(proxy)
  let left = targets.filter((t) => t.record.kind !== 'proxy')
  while (left.length) {
    const needed = new Set(left.flatMap((t) => t.dependsOn))
    let wave = left.filter((t) => !needed.has(t.record.server))
    // A cycle cannot pass config validation; stop the rest together rather than hang.
    if (wave.length === 0) wave = left
    waves.push(wave)
    left = left.filter((t) => !wave.includes(t))
  }
  return waves
}

async function stopWave(wave: StopTarget[], report: StopReport, opts: StopOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 5
  const started = Date.now()
  let table = processTable()
  for (const t of wave) {
    // A stopped process (SIGSTOP, Ctrl+Z) acts on SIGTERM only once continued.
    if (signalGroup(t.record, 'SIGTERM', opts.runId, table)) signalGroup(t.record, 'SIGCONT', opts.runId, table)
  }
  const pending = new Set(wave)
  const killedAt = new Map<StopTarget, number>()
  let lastNotice = started
  while (pending.size) {
    await sleep(pollMs)
    table = processTable()
    const now = Date.now()
    for (const t of [...pending]) {
      const members = groupMembers(t.record, table, opts.runId)
      if (members.length === 0) {
        pending.delete(t)
        report.stopped.push(t.record.id)
        opts.onStopped?.(t.record.id)
      } else if (!killedAt.has(t) && now - started >= t.stopTimeoutMs) {
        signalGroup(t.record, 'SIGKILL', opts.runId, table)
        killedAt.set(t, now)
        report.killed.push(t.record.id)
      } else if (killedAt.has(t) && now - killedAt.get(t)! > AFTER_KILL_MS) {
        pending.delete(t)
        report.survivors.push(
          `${t.record.id}: ${members.map((m) => `pid ${m.pid} (${commandLine(m.pid)})`).join(', ')} still alive after SIGKILL`,
        )
      }
    }
    if (pending.size && now - lastNotice >= 1000) {
      lastNotice = now
      opts.onWait?.(
        [...pending]
          .map((t) => {
            const left = Math.max(0, Math.ceil((t.stopTimeoutMs - (now - started)) / 1000))
            return `${t.record.id} (pid ${t.record.pid}${killedAt.has(t) ? ', killed' : `, SIGKILL in ${left} s`})`
          })
          .join(', '),
      )
    }
  }
}

// Descendants that escaped their group (setsid) but carry this run's tag: TERM, then KILL.
async function stopEscaped(
  runId: string,
  ids: Set<string> | undefined,
  report: StopReport,
  pollMs: number,
): Promise<void> {
  const wanted = (tag: string) => (ids ? ids.has(tag.slice(runId.length + 1)) : tag !== supervisorTag(runId))
  const escaped = escapedProcesses(runId, new Set(), processTable()).filter((e) => wanted(e.tag))
  if (escaped.length === 0) return
  for (const e of escaped) {
    report.escaped.push(`pid ${e.stat.pid} (${commandLine(e.stat.pid)}) started by ${e.tag.slice(runId.length + 1)}`)
    killPid(e.stat.pid, 'SIGTERM')
    killPid(e.stat.pid, 'SIGCONT')
  }
  for (const p of await waitGone(
    escaped.map((e) => e.stat),
    1000,
    pollMs,
  ))
    killPid(p.pid, 'SIGKILL')
}

// Stops the given processes in dependency order, then waits until their ports are released.
export async function stopProcesses(targets: StopTarget[], opts: StopOptions): Promise<StopReport> {
  const report: StopReport = { stopped: [], killed: [], escaped: [], survivors: [] }
  for (const wave of stopWaves(targets)) await stopWave(wave, report, opts)
  await stopEscaped(
    opts.runId,
    opts.wholeRun ? undefined : new Set(targets.map((t) => t.record.id)),
    report,
    opts.pollMs ?? 10,
  )
  const endpoints: Endpoint[] = []
  for (const e of [
    ...targets.flatMap((t) =>
      t.record.port === undefined ? [] : [{ host: t.host ?? '127.0.0.1', port: t.record.port }],
    ),
    ...(opts.ports ?? []),
  ])
    if (!endpoints.some((o) => o.port === e.port)) endpoints.push(e)
  // Every process is gone by now, and a listening socket closes with its last holder: a connect probe
  // confirms it cheaply; the slower /proc scan runs only to name whoever still listens.
  const listening = await waitReleased(endpoints, PORT_RELEASE_MS, opts.pollMs ?? 10)
  if (listening.length)
    for (const busy of await busyPorts(endpoints.filter((e) => listening.includes(e.port))))
      report.survivors.push(`${describeBusy(busy)} after stop`)
  return report
}
