// max_memory: every few seconds the RSS of each limited instance's process tree; one that stays above its limit
// for OVER_SAMPLES samples in a row is restarted (drained first when another instance serves), the reason said.
import { formatSize } from '../config/size.ts'
import { processTable } from '../os/platform.ts'
import { rssBytes, treeOf, type ProcStat } from '../os/procfs.ts'
import type { LiveStack } from './live.ts'
import { recycle } from './recycle.ts'
import type { Managed } from './supervision.ts'
import type { Watcher } from './health-watch.ts'

export const MEMORY_SAMPLE_MS = 2000
// A short peak (a build, a burst of requests) is no reason to restart: only memory that stays up.
export const OVER_SAMPLES = 3
const UNLIMITED_LOOK_MS = 10_000

// The tree's RSS in bytes; undefined when the recorded process is not the one in the table (gone, pid reused).
export function treeRss(m: Managed, table: ProcStat[]): number | undefined {
  const tree = treeOf(m.record.pid, table)
  if (tree[0]?.startTime !== m.record.startTime) return undefined
  return rssBytes(tree)
}

export function watchMemory(live: LiveStack, log: (line: string) => void, sampleMs = MEMORY_SAMPLE_MS): Watcher {
  // Samples in a row above the limit, per instance, for the process it was counted for.
  const over = new Map<string, { pid: number; count: number }>()
  let timer: NodeJS.Timeout
  const tick = () => {
    const limited = live
      .instances()
      .filter((m) => m.spec.maxMemoryBytes !== undefined && m.record.state === 'running' && !m.retiring)
    // Nothing limited: no process table is read at all.
    const table = limited.length ? processTable() : []
    const seen = new Set<string>()
    for (const m of limited) {
      const limit = m.spec.maxMemoryBytes!
      const rss = treeRss(m, table)
      if (rss === undefined || rss <= limit) continue
      seen.add(m.spec.id)
      const before = over.get(m.spec.id)
      const count = before?.pid === m.record.pid ? before.count + 1 : 1
      over.set(m.spec.id, { pid: m.record.pid, count })
      if (count < OVER_SAMPLES) continue
      over.delete(m.spec.id)
      const reason = `memory ${formatSize(rss)} > ${formatSize(limit)} (max_memory, ${count} samples in a row)`
      void recycle(live, m, reason, log)
    }
    for (const id of over.keys()) if (!seen.has(id)) over.delete(id)
    // With no limit to watch, only a rare look for one added since (scale, apply).
    timer = setTimeout(tick, limited.length ? sampleMs : UNLIMITED_LOOK_MS).unref()
  }
  timer = setTimeout(tick, sampleMs).unref()
  return { stop: () => clearTimeout(timer) }
}
