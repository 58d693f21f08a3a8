// A bring-up's progress, from the detached supervisor to the start command waiting for it: one JSON event a line in
// run/start-progress.jsonl. A file, not a pipe: the servers never inherit it, and neither side depends on the other.
import fs from 'node:fs'
import path from 'node:path'
import type { Home } from '../core/home.ts'
import { NL } from '../logs/line.ts'
import { createExclusive, removeFile } from '../core/safe-files.ts'
import type { ProgressEvent } from './supervision.ts'

export type StartProgress =
  | ProgressEvent
  // The start failed and the supervisor is stopping what it started.
  | { type: 'stopping' }
  // Everything is ready.
  | { type: 'up' }
  // Everything is stopped again; the message says which process failed, why, and its last lines.
  | { type: 'failed'; code: string; message: string }

export const startProgressPath = (home: Home) => path.join(home.run, 'start-progress.jsonl')

// A fresh, empty file: the supervisor reports to it only while it exists.
export function createStartProgress(home: Home): void {
  removeFile(startProgressPath(home))
  fs.closeSync(createExclusive(startProgressPath(home)))
}

// Left behind (a read-only home) it does no harm: the next start replaces it, a --no-wait start removes it.
export function removeStartProgress(home: Home): void {
  try {
    removeFile(startProgressPath(home))
  } catch {
    // Said by whatever else fails on that home.
  }
}

// The supervisor's side: nobody may be reading (a --no-wait start, a start that was killed), so nothing here fails.
export function reportStartProgress(home: Home, event: StartProgress): void {
  const file = startProgressPath(home)
  try {
    if (fs.lstatSync(file).isFile()) fs.appendFileSync(file, JSON.stringify(event) + '\n')
  } catch {
    // No file (nobody follows this bring-up), or no room for the line.
  }
}

// The start command's side: the events written since the last call, whole lines only.
export function startProgressReader(home: Home): () => StartProgress[] {
  let offset = 0
  return () => {
    let text: string
    try {
      const buf = fs.readFileSync(startProgressPath(home))
      const end = buf.lastIndexOf(NL) + 1
      if (end <= offset) return []
      text = buf.subarray(offset, end).toString('utf8')
      offset = end
    } catch {
      return []
    }
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as StartProgress)
  }
}
