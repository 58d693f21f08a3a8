// Size-based rotation of every file the unified log's writer looks after. A process holds its log file open for
// append, so its files rotate by copy and truncate in place, the process group paused for the last bytes so none is
// lost in between; the writer moves the unified log itself aside.
import fs from 'node:fs'
import type { LogsConfig } from '../config/types.ts'
import type { Home } from '../core/home.ts'
import { archivePath, fileSize, proxyAccessLogs, unifiedLogPath } from './paths.ts'
import type { LogSource } from './source.ts'
import { beginTruncation, endTruncation, readLogState, type TruncationFiles } from './offsets.ts'
import type { RecordedRun } from '../os/process-record.ts'
import { pauseGroup, processTable } from '../os/platform.ts'
import { signalGroup } from '../os/process-groups.ts'
import { resumeGroup } from '../os/signal.ts'
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

const SLOW_CHECK_MS = 1000
const RETRY_ROTATION_MS = 1000

// What rotation needs of the unified log it works for.
export interface RotatedLog {
  sources(): Iterable<LogSource>
  // The size of the unified log as written so far, and opening it anew once it was moved aside.
  unifiedSize(): number
  reopenUnified(): void
  // Records the process groups paused for a rotation (undefined: none), so a writer that dies resumes them.
  setPaused(pgids: number[] | undefined): void
  // Reads everything the source has, stderr copies included, before its files are cut.
  drain(source: LogSource): void
  // Saves every source's position (after a truncation restarted them).
  saveSources(): void
}

export class LogRotation {
  private lastSlowCheck = 0
  private readonly failed = new Map<string, number>()

  constructor(
    private readonly home: Home,
    private readonly limits: LogsConfig,
    private readonly log: RotatedLog,
  ) {}

  rotateIfNeeded(): void {
    const max = this.limits.max_size
    if (!max) return
    for (const source of this.log.sources()) {
      const big = [source.out.file, source.err?.file].filter((f): f is string => f !== undefined && fileSize(f) > max)
      if (big.length) this.rotateFiles(big, source)
    }
    if (this.log.unifiedSize() > max) this.rotateUnified()
    if (Date.now() - this.lastSlowCheck < SLOW_CHECK_MS) return
    this.lastSlowCheck = Date.now()
    // Files no process log follows: the proxy's access log (the proxy writes it) and the supervisor's own notes.
    for (const [proxy, access] of proxyAccessLogs(this.home)) {
      const source = [...this.log.sources()].find((s) => s.id === proxy)
      if (fileSize(access) > max) this.rotateFiles([access], source)
    }
    if (fileSize(this.home.supervisorLog) > max) this.rotateFiles([this.home.supervisorLog], undefined)
  }

  // Copy and truncate in place, with the writing process group paused for the last bytes.
  private rotateFiles(files: string[], source: LogSource | undefined): void {
    const key = files[0]
    if (Date.now() - (this.failed.get(key) ?? 0) < RETRY_ROTATION_MS) return
    const events: TruncationFiles = {}
    let begun = false
    let ended = false
    let done: boolean
    try {
      done = this.copyTruncate(
        files,
        source,
        events,
        () => (begun = true),
        () => (ended = true),
      )
    } catch (error) {
      // No room for the copy (a full disk): drop the partial copies, close the truncation begun, try again later.
      this.failed.set(key, Date.now())
      for (const file of files) fs.rmSync(`${file}.rotating`, { force: true })
      if (begun && !ended) endTruncation(this.home, events)
      throw error
    }
    if (done) this.failed.delete(key)
    else this.failed.set(key, Date.now())
  }

  private copyTruncate(
    files: string[],
    source: LogSource | undefined,
    events: TruncationFiles,
    begun: () => void,
    ended: () => void,
  ): boolean {
    return copyTruncate(files, this.limits.keep, {
      pause: () => pauseGroup(source?.group(), (pgid) => this.log.setPaused([pgid])),
      resume: (pgid) => {
        if (pgid !== undefined) resumeGroup(pgid)
        this.log.setPaused(undefined)
      },
      drain: () => {
        // Every stderr line is copied before its file is cut, even into an unfinished stdout line.
        if (source && files.some((f) => f === source.out.file || f === source.err?.file)) this.log.drain(source)
      },
      begin: () => {
        beginTruncation(this.home)
        begun()
      },
      truncated: (file, size) => {
        events[file] = { kind: 'rotate', size }
        if (source && file === source.out.file) source.restart('out', true)
        if (source && file === source.err?.file) source.restart('err', true)
      },
      end: () => {
        this.log.saveSources()
        endTruncation(this.home, events)
        ended()
      },
    })
  }

  // The writer is the only one writing the unified log, so it simply moves the file aside.
  private rotateUnified(): void {
    const file = unifiedLogPath(this.home)
    shiftArchives(file, this.limits.keep)
    fs.renameSync(file, `${file}.1`)
    this.log.reopenUnified()
  }
}
