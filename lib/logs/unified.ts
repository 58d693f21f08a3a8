// The unified log: built by following every process's own log files from saved offsets, so a
// supervisor that dies and is replaced (or hands over) continues exactly where the last one stopped.
import fs from 'node:fs'
import path from 'node:path'
import { logsDefaults, type LogsConfig } from '../config/types.ts'
import { ensureHome, type Home } from '../core/home.ts'
import { answerCleanRequest, resetSource, takeCleanRequest, truncateLogFiles } from './clean.ts'
import { fileSize, logBehindPath, offsetsPath, proxyAccessLogs, unifiedLogPath, writeFailure } from './paths.ts'
import { prefixLine } from './line.ts'
import { recover } from './recovery.ts'
import { LogSource, type CopyPlan } from './source.ts'
import type { GroupRecord, RecordedRun } from '../os/process-record.ts'
import {
  beginTruncation,
  endTruncation,
  writeLogState,
  type LoadedLogState,
  type LogState,
  type TruncationFiles,
} from './offsets.ts'
import { copyTruncate, shiftArchives } from './rotate.ts'
import { pauseGroup } from '../os/platform.ts'
import { resumeGroup } from '../os/signal.ts'
import { noSpace, openAppend } from '../core/safe-files.ts'
import { writeJsonAtomic } from '../core/json-files.ts'

// Rounds of reading per poll: a burst is taken in slices so the supervisor's event loop stays responsive.
const MAX_ROUNDS = 16
const MAX_DRAIN_CYCLES = 4096
const SLOW_CHECK_MS = 1000
const RETRY_ROTATION_MS = 1000

export interface FollowOptions {
  // The process's raw stderr file: its lines are appended to the log file and marked in the unified log.
  stderrFile?: string
  // The process writing the files, paused for the last bytes of a rotation.
  group?: () => GroupRecord | undefined
  // For a file with nothing saved: skip what an earlier run left in it.
  fromEnd?: boolean
}

// One write for the whole batch (writev); the rest again if the kernel took only part of it.
function writeAll(fd: number, chunks: Buffer[], length: number): void {
  const written = chunks.length <= 64 ? fs.writevSync(fd, chunks) : 0
  if (written >= length) return
  const rest = Buffer.concat(chunks).subarray(written)
  for (let at = 0; at < rest.length;) at += fs.writeSync(fd, rest, at)
}

export class UnifiedLog {
  private readonly sources = new Map<string, LogSource>()
  private state: LogState
  private fd: number
  private saved = ''
  private lastSlowCheck = 0
  private readonly rotationFailed = new Map<string, number>()

  private lastError = ''
  // Why the unified log could not be written (a full disk), until it has caught up again.
  private behind?: { reason: string; recorded: boolean }
  private readonly damage: LoadedLogState['damage']

  constructor(
    private readonly home: Home,
    private readonly limits: LogsConfig = logsDefaults,
    // Where a failed poll is reported (once per distinct error); the supervisor keeps running either way.
    private readonly report: (line: string) => void = () => {},
    // The run whose process groups a dead writer may have left paused mid-rotation (resumed after checks).
    recorded: () => RecordedRun | undefined = () => undefined,
  ) {
    ensureHome(home)
    const { state, damage } = recover(home, recorded())
    this.state = state
    this.damage = damage
    fs.rmSync(logBehindPath(home), { force: true })
    this.tryCommit()
    this.fd = openAppend(unifiedLogPath(home))
    if (damage) this.noteDamage(damage)
  }

  follow(id: string, file: string, opts: FollowOptions = {}): void {
    if (this.sources.has(file)) return
    const saved = this.state.sources[file]
    // Where the saved position was damaged, what was read before is unknown: go on from the end, never from 0.
    const lost = !saved && this.damage !== undefined && (this.damage.whole || this.damage.files.includes(file))
    this.sources.set(
      file,
      new LogSource(id, file, opts.stderrFile, opts.group ?? (() => undefined), saved, (opts.fromEnd ?? false) || lost),
    )
    this.state.sources[file] = this.sources.get(file)!.snapshot()
    this.tryCommit()
  }

  // Reads everything new from every file and appends it, prefixed; returns the number of lines.
  poll(): number {
    let lines = 0
    try {
      this.serveCleanRequest()
      this.reopenIfGone()
      let more = false
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const r = this.cycle([...this.sources.values()], false)
        lines += r.lines
        more = r.more
        if (!r.more) break
      }
      this.rotateIfNeeded()
      this.lastError = ''
      if (!more) this.caughtUp()
    } catch (error) {
      // A full disk or a removed folder must not take the supervisor (and the restarts it does) down.
      this.failed(error)
    }
    return lines
  }

  // The process exited: whatever it printed without a final newline is still a line.
  flush(file: string): void {
    const source = this.sources.get(file)
    if (!source) return
    try {
      this.drain([source])
      this.cycle([source], true)
    } catch (error) {
      this.failed(error)
    }
  }

  close(): void {
    const all = [...this.sources.values()]
    try {
      this.drain(all)
      this.commit()
    } catch (error) {
      // What could not be written stays unread in the saved offsets: the next writer takes it from there.
      this.failed(error)
    }
    for (const source of all) source.close()
    fs.closeSync(this.fd)
  }

  private failed(error: unknown): void {
    const message = `unified log: ${error instanceof Error ? error.message : String(error)}`
    if (message !== this.lastError) this.report(message)
    this.lastError = message
    const reason = writeFailure(error)
    if (this.behind?.reason !== reason) this.behind = { reason, recorded: false }
    if (this.behind.recorded) return
    try {
      writeJsonAtomic(logBehindPath(this.home), { reason, since: new Date().toISOString(), pid: process.pid })
      this.behind.recorded = true
    } catch {
      // The disk is full: `status` sees it from the free space and the offsets instead.
    }
  }

  private caughtUp(): void {
    if (!this.behind) return
    fs.rmSync(logBehindPath(this.home), { force: true })
    this.report(`unified log caught up (it was behind: ${this.behind.reason})`)
    this.behind = undefined
  }

  private tryCommit(): void {
    try {
      this.commit()
    } catch (error) {
      this.failed(error)
    }
  }

  // Said in the unified log itself and to the caller, so whoever reads either knows why lines may be missing.
  private noteDamage(damage: NonNullable<LoadedLogState['damage']>): void {
    const where = damage.whole ? 'every file' : damage.files.map((f) => path.basename(f)).join(', ')
    const text =
      `${offsetsPath(this.home)} was damaged (${damage.detail})` +
      `: the unified log goes on from the end of ${where}` +
      `; what was printed while no supervisor ran is only in each process's own log file`
    this.report(text)
    try {
      fs.writeSync(this.fd, `${prefixLine('supervisor', text, 'err')}\n`)
    } catch (error) {
      this.failed(error)
    }
  }

  // Truncates every log file in place and starts every offset over (see log-clean.ts).
  clean(): number {
    try {
      beginTruncation(this.home)
    } catch (error) {
      // On a full disk the mark may not fit; the truncation below frees the space for the rest.
      if (!noSpace(error)) throw error
    }
    for (const source of this.sources.values()) {
      source.restart('out')
      source.restart('err')
    }
    const { files, count } = truncateLogFiles(this.home)
    for (const [file, source] of Object.entries(this.state.sources))
      this.state.sources[file] = this.sources.get(file)?.snapshot() ?? resetSource(source)
    this.commit()
    endTruncation(this.home, files)
    return count
  }

  // One read of the given sources: stderr copies first (recorded as an intent), then one write.
  private cycle(list: LogSource[], final: boolean, force = false): { lines: number; more: boolean } {
    const plans: [LogSource, CopyPlan][] = []
    for (const source of list) {
      const plan = source.planCopy(final, force)
      if (plan) plans.push([source, plan])
    }
    if (plans.length) {
      this.state.copying = plans.map(([, p]) => p.intent)
      try {
        this.commit()
        for (const [source, plan] of plans) source.applyCopy(plan)
      } catch (error) {
        // A copy that did not fit was cut off again (see applyCopy) and its stderr offset not moved: retried later.
        this.state.copying = undefined
        throw error
      }
    }
    const prev = this.snapshotAll()
    const chunks: Buffer[] = []
    let count = 0
    let more = false
    for (const source of list) {
      const r = source.readOut(final)
      chunks.push(...r.chunks)
      count += r.count
      more ||= r.more || source.errBehind
    }
    this.state.sources = this.snapshotAll()
    this.state.copying = undefined
    if (count === 0) {
      this.commit()
      return { lines: 0, more }
    }
    const length = chunks.reduce((n, c) => n + c.length, 0)
    const stat = fs.fstatSync(this.fd)
    this.state.pending = { ino: stat.ino, before: stat.size, after: stat.size + length, prev }
    try {
      this.commit()
      writeAll(this.fd, chunks, length)
    } catch (error) {
      this.undo(prev, stat.size)
      throw error
    }
    this.state.pending = undefined
    return { lines: count, more }
  }

  // A batch that could not be recorded or written (no space left): cut off whatever part of it landed and
  // put every offset back, so it is read and written again once there is room. Nothing is lost, nothing torn.
  private undo(prev: LogState['sources'], size: number): void {
    // This process is the only writer of the unified log, so nothing else can have landed after the batch.
    if (fs.fstatSync(this.fd).size > size) fs.ftruncateSync(this.fd, size)
    for (const [file, source] of this.sources) if (prev[file]) source.restore(prev[file])
    this.state.sources = prev
    this.state.pending = undefined
  }

  // Reads until caught up; bounded, for a process that prints faster than it can be read.
  private drain(list: LogSource[], force = false): void {
    for (let i = 0; i < MAX_DRAIN_CYCLES && this.cycle(list, false, force).more; i++);
  }

  private snapshotAll(): LogState['sources'] {
    const sources = { ...this.state.sources }
    for (const [file, source] of this.sources) sources[file] = source.snapshot()
    return sources
  }

  // Written only when something changed: an idle stack costs a few stat calls per poll, no writes.
  private commit(): void {
    const text = JSON.stringify(this.state)
    if (text === this.saved) return
    writeLogState(this.home, this.state)
    this.saved = text
  }

  private serveCleanRequest(): void {
    const id = takeCleanRequest(this.home)
    if (id !== undefined) answerCleanRequest(this.home, id, this.clean())
  }

  private rotateIfNeeded(): void {
    const max = this.limits.max_size
    if (!max) return
    for (const source of this.sources.values()) {
      const big = [source.out.file, source.err?.file].filter((f): f is string => f !== undefined && fileSize(f) > max)
      if (big.length) this.rotateFiles(big, source)
    }
    if (fs.fstatSync(this.fd).size > max) this.rotateUnified()
    if (Date.now() - this.lastSlowCheck < SLOW_CHECK_MS) return
    this.lastSlowCheck = Date.now()
    // Files no process log follows: the proxy's access log (the proxy writes it) and the supervisor's own notes.
    for (const [proxy, access] of proxyAccessLogs(this.home)) {
      const source = [...this.sources.values()].find((s) => s.id === proxy)
      if (fileSize(access) > max) this.rotateFiles([access], source)
    }
    if (fileSize(this.home.supervisorLog) > max) this.rotateFiles([this.home.supervisorLog], undefined)
  }

  // Copy and truncate in place, with the writing process group paused for the last bytes.
  private rotateFiles(files: string[], source: LogSource | undefined): void {
    const key = files[0]
    if (Date.now() - (this.rotationFailed.get(key) ?? 0) < RETRY_ROTATION_MS) return
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
      this.rotationFailed.set(key, Date.now())
      for (const file of files) fs.rmSync(`${file}.rotating`, { force: true })
      if (begun && !ended) endTruncation(this.home, events)
      throw error
    }
    if (done) this.rotationFailed.delete(key)
    else this.rotationFailed.set(key, Date.now())
  }

  private copyTruncate(
    files: string[],
    source: LogSource | undefined,
    events: TruncationFiles,
    begun: () => void,
    ended: () => void,
  ): boolean {
    return copyTruncate(files, this.limits.keep, {
      pause: () =>
        pauseGroup(source?.group(), (pgid) => {
          this.state.paused = [pgid]
          this.commit()
        }),
      resume: (pgid) => {
        if (pgid !== undefined) resumeGroup(pgid)
        this.state.paused = undefined
        this.commit()
      },
      drain: () => {
        // Every stderr line is copied before its file is cut, even into an unfinished stdout line.
        if (source && files.some((f) => f === source.out.file || f === source.err?.file)) this.drain([source], true)
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
        this.state.sources = this.snapshotAll()
        this.commit()
        endTruncation(this.home, events)
        ended()
      },
    })
  }

  // Someone deleted or moved the unified log: start a new one rather than write into a file nobody sees.
  private reopenIfGone(): void {
    const now = fs.statSync(unifiedLogPath(this.home), { throwIfNoEntry: false })
    if (now && now.ino === fs.fstatSync(this.fd).ino) return
    ensureHome(this.home)
    const fd = openAppend(unifiedLogPath(this.home))
    fs.closeSync(this.fd)
    this.fd = fd
  }

  // This process is the only writer of the unified log, so it simply moves the file aside.
  private rotateUnified(): void {
    const file = unifiedLogPath(this.home)
    shiftArchives(file, this.limits.keep)
    fs.renameSync(file, `${file}.1`)
    fs.closeSync(this.fd)
    this.fd = openAppend(file)
  }
}
