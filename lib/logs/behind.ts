// Whether the unified log is behind its sources, and why, without loading the log writer (status stays quick).
import fs from 'node:fs'
import type { Home } from '../core/home.ts'
import { fileSize, freeBytes, logBehindPath, unifiedLogPath } from './paths.ts'
import { readLogState } from './offsets.ts'
import { readJsonFile } from '../core/json-files.ts'

// Free space kept aside on top of what the unread lines need, below which the unified log cannot catch up.
const LOW_SPACE = 64 << 10

// Whether the unified log is behind the processes' own files because it cannot be written: why, and by how much.
// The supervisor says why in run/log-behind.json when it can; on a disk too full for even that, the free
// space and the saved offsets tell.
export function unifiedLogBehind(home: Home): { reason: string; unreadBytes: number } | undefined {
  const state = readLogState(home)
  // A last batch recorded but not (fully) written, as on a full disk: its offsets are the ones before it.
  const written = state.pending && fs.statSync(unifiedLogPath(home), { throwIfNoEntry: false })
  const sources =
    state.pending && written && written.ino === state.pending.ino && written.size < state.pending.after
      ? state.pending.prev
      : state.sources
  let unreadBytes = 0
  for (const source of Object.values(sources)) {
    for (const stream of [source.out, source.err])
      if (stream) unreadBytes += Math.max(0, fileSize(stream.file) - stream.offset)
  }
  if (unreadBytes === 0) return undefined
  const recorded = readJsonFile(logBehindPath(home))
  if (typeof recorded?.reason === 'string') return { reason: recorded.reason, unreadBytes }
  // Prefixed, the unread lines take more room than they do raw: without that much free, they cannot all be written.
  return freeBytes(home.logs) < 2 * unreadBytes + LOW_SPACE
    ? { reason: 'no space left on device', unreadBytes }
    : undefined
}
