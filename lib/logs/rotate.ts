// Size-based rotation. A process holds its log file open for append, so its files rotate by copy
// and truncate in place; the process group is paused for the last bytes so none is lost in between.
import fs from 'node:fs'
import type { Home } from '../core/home.ts'
import { archivePath, fileSize } from './paths.ts'
import { readLogState } from './offsets.ts'
import type { RecordedRun } from '../os/process-record.ts'
import { processTable } from '../os/platform.ts'
import { signalGroup } from '../os/process-groups.ts'
import { openAppend, openRead, truncateRegular } from '../core/safe-files.ts'

const isRegularFile = (file: string) => fs.lstatSync(file, { throwIfNoEntry: false })?.isFile() ?? false

const COPY_CHUNK = 1 << 20

// x.log.(keep-1) -> x.log.keep, ..., x.log.1 -> x.log.2: frees x.log.1 and drops the oldest.
export function shiftArchives(file: string, keep: number): void {
  fs.rmSync(archivePath(file, keep), { force: true })
  for (let n = keep - 1; n >= 1; n--) {
    try {
      fs.renameSync(archivePath(file, n), archivePath(file, n + 1))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
}

// Appends src[from, to) to dst.
export function copyRange(src: string, dst: string, from: number, to: number): void {
  const input = openRead(src)
  let output: number
  try {
    output = openAppend(dst)
  } catch (error) {
    fs.closeSync(input)
    throw error
  }
  try {
    const buffer = Buffer.allocUnsafe(COPY_CHUNK)
    for (let at = from; at < to;) {
      const got = fs.readSync(input, buffer, 0, Math.min(COPY_CHUNK, to - at), at)
      if (got === 0) break
      fs.writeSync(output, buffer, 0, got)
      at += got
    }
  } finally {
    fs.closeSync(input)
    fs.closeSync(output)
  }
}

// SIGCONT for groups a dead writer left stopped mid-rotation; `stop` calls this before signalling. Only
// groups of recorded processes (none without a readable state), verified as any signal is: the note names a
// bare number that may be reused.
export function resumePaused(home: Home, run: RecordedRun | undefined): void {
  const paused = readLogState(home).paused ?? []
  if (paused.length === 0 || !run) return
  const table = processTable()
  for (const pgid of paused) {
    const record = run.processes.find((p) => p.pgid === pgid)
    if (record) signalGroup(record, 'SIGCONT', run.runId, table)
  }
}

export interface CopyTruncateSteps {
  // Stop the writers (undefined: nothing to stop; false: could not, try again later).
  pause(): number | undefined | false
  resume(pgid: number | undefined): void
  // Read everything written so far, with the writers stopped, so nothing is left behind in the old bytes.
  drain(): void
  begin(): void
  // Called once per file right after it was truncated, with the size it had.
  truncated(file: string, size: number): void
  end(): void
}

// Rotates files that one process group writes: the bulk is copied while it runs, the rest while paused.
export function copyTruncate(files: string[], keep: number, steps: CopyTruncateSteps): boolean {
  // Only the stack's own regular files: a link or a FIFO planted in logs/ is left alone.
  const staged = files.filter(isRegularFile).map((file) => ({ file, tmp: `${file}.rotating`, copied: 0 }))
  if (staged.length === 0) return true
  for (const s of staged) {
    fs.rmSync(s.tmp, { force: true })
    s.copied = fileSize(s.file)
    copyRange(s.file, s.tmp, 0, s.copied)
  }
  const paused = steps.pause()
  if (paused === false) {
    for (const s of staged) fs.rmSync(s.tmp, { force: true })
    return false
  }
  try {
    steps.drain()
    steps.begin()
    for (const s of staged) {
      const size = fileSize(s.file)
      copyRange(s.file, s.tmp, s.copied, size)
      shiftArchives(s.file, keep)
      fs.renameSync(s.tmp, archivePath(s.file, 1))
      truncateRegular(s.file)
      steps.truncated(s.file, size)
    }
    steps.end()
  } finally {
    steps.resume(paused)
  }
  return true
}
