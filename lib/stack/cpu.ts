// Recent CPU use per process tree: the difference between two /proc samples, not the lifetime average.
// While someone asks, the supervisor records a figure every few seconds in run/cpu.json; without one, status samples
// briefly.
import path from 'node:path'
import type { Home } from '../core/home.ts'
import { bootTimeMs, processTable } from '../os/platform.ts'
import { CLOCK_TICKS, treeOf, type ProcStat } from '../os/procfs.ts'
import { sleep } from '../core/sleep.ts'
import { type StackState } from './state.ts'
import { readJsonFile, writeJsonAtomic } from '../core/json-files.ts'

export interface CpuTarget {
  pid: number
  startTime: string
  // The supervisor counts only itself: servers it restarted are its children but have rows of their own.
  wholeTree: boolean
}

type Identity = { pid: number; startTime: string }

interface Sample {
  at: number
  table: ProcStat[]
}

export const CPU_RECORD_MS = 2000
const CPU_FIRST_MS = 500
// How long the supervisor keeps recording after the last status request (`watch status` keeps it going).
const WATCHED_MS = 60_000
// Older than this, the figure is no longer "recent" (the supervisor is gone or stuck).
const FRESH_MS = 3 * CPU_RECORD_MS
// The one sample status may take itself; it is also the most status ever waits for it.
const SAMPLE_MS = 100

const cpuFile = (home: Home) => path.join(home.run, 'cpu.json')
const keyOf = (t: Identity) => `${t.pid}:${t.startTime}`

function ticksOf(target: CpuTarget, table: ProcStat[]): number | undefined {
  const tree = target.wholeTree ? treeOf(target.pid, table) : table.filter((p) => p.pid === target.pid)
  if (tree[0]?.startTime !== target.startTime) return undefined
  return tree.reduce((sum, p) => sum + p.cpuTicks, 0)
}

// Percent of one core over the time between two samples, per target still alive in both.
export function cpuBetween(before: Sample, after: Sample, targets: CpuTarget[]): Map<string, number> {
  const out = new Map<string, number>()
  const elapsed = after.at - before.at
  if (elapsed <= 0) return out
  for (const t of targets) {
    const [a, b] = [ticksOf(t, before.table), ticksOf(t, after.table)]
    if (a === undefined || b === undefined) continue
    out.set(keyOf(t), Math.round((Math.max(0, b - a) * 1000 * 1000) / CLOCK_TICKS / elapsed) / 10)
  }
  return out
}

// Someone asked for figures in this process (status over the control socket): the recorder, if one runs here.
let asked: () => void = () => {}

// Run by the supervisor, only while someone looks: from a status request on, a first figure soon and then one every
// CPU_RECORD_MS, until nobody asked for WATCHED_MS (an idle stack nobody looks at costs no sampling). A failed write
// (full disk) is skipped.
export function recordCpu(home: Home, supervisor: Identity, targets: () => CpuTarget[]): { stop(): void } {
  let last: Sample | undefined
  let timer: NodeJS.Timeout | undefined
  let lastAsked = 0
  const tick = () => {
    const now: Sample = { at: Date.now(), table: processTable() }
    const percent = cpuBetween(last!, now, targets())
    last = now
    try {
      writeJsonAtomic(cpuFile(home), {
        supervisor: keyOf(supervisor),
        at: now.at,
        percent: Object.fromEntries(percent),
      })
    } catch {
      // Status falls back to its own short sample.
    }
    timer = now.at - lastAsked < WATCHED_MS ? setTimeout(tick, CPU_RECORD_MS).unref() : undefined
  }
  asked = () => {
    lastAsked = Date.now()
    if (timer) return
    last = { at: Date.now(), table: processTable() }
    timer = setTimeout(tick, CPU_FIRST_MS).unref()
  }
  return {
    stop: () => {
      clearTimeout(timer)
      timer = undefined
      asked = () => {}
    },
  }
}

// For status: the supervisor's recent figures when they are fresh (a process started since has none: its
// lifetime is recent), else a sample of SAMPLE_MS taken now.
export async function recentCpu(
  home: Home,
  supervisor: Identity | undefined,
  targets: CpuTarget[],
  now = Date.now(),
): Promise<Map<string, number>> {
  if (supervisor?.pid === process.pid) asked()
  const recorded = readJsonFile(cpuFile(home))
  if (
    supervisor &&
    recorded?.supervisor === keyOf(supervisor) &&
    typeof recorded.at === 'number' &&
    now - recorded.at < FRESH_MS
  ) {
    const percent = (recorded.percent ?? {}) as Record<string, unknown>
    return new Map(Object.entries(percent).filter((e): e is [string, number] => typeof e[1] === 'number'))
  }
  // Every process started within the last few seconds: its lifetime average is its recent CPU, no sample needed.
  const boot = bootTimeMs()
  if (targets.every((t) => now - (boot + (Number(t.startTime) * 1000) / CLOCK_TICKS) < FRESH_MS)) return new Map()
  const before: Sample = { at: Date.now(), table: processTable() }
  // No process table to sample (no /proc): no figures, rather than a wait for nothing.
  if (before.table.length === 0) return new Map()
  await sleep(SAMPLE_MS)
  return cpuBetween(before, { at: Date.now(), table: processTable() }, targets)
}

export const cpuKey = keyOf

// The supervisor (itself only) and every recorded process (its whole tree).
export function cpuTargets(state: StackState, supervisor: Identity | undefined): CpuTarget[] {
  const own = supervisor && supervisor.pid > 0 ? [{ ...supervisor, wholeTree: false }] : []
  return [
    ...own,
    ...state.processes.filter((p) => p.pid > 0).map((p) => ({ pid: p.pid, startTime: p.startTime, wholeTree: true })),
  ]
}
