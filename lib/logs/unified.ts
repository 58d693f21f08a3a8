// The unified log: built by following every process's own log files from saved offsets, so a
// supervisor that dies and is replaced (or hands over) continues exactly where the last one stopped.
import fs from 'node:fs'
import { logsDefaults, type LogsConfig } from '../config/types.ts'
import { ensureHome, type Home } from '../core/home.ts'
import { answerCleanRequest, resetSource, takeCleanRequest, truncateLogFiles } from './clean.ts'
import { cleanRequestPath, unifiedLogPath } from './paths.ts'
import { BehindNote } from './behind-note.ts'
import { prefixLine } from './line.ts'
import { damageText, recover } from './recovery.ts'
import { BatchSize, LogSource, writeAll, type CopyPlan, type FollowOptions } from './source.ts'
import type { RecordedRun } from '../os/process-record.ts'
import { beginTruncation, endTruncation, writeLogState, type LoadedLogState, type LogState } from './offsets.ts'
import { LogRotation } from './rotate.ts'
import { noSpace, openAppend } from '../core/safe-files.ts'
import { SaidLines } from './said.ts'
import { ReadOnChange, type NextRead } from './wake.ts'

// Rounds of reading per poll: a burst is taken in slices so the supervisor's event loop stays responsive.
const MAX_ROUNDS = 16
const MAX_DRAIN_CYCLES = 4096

export class UnifiedLog {
  private readonly sources = new Map<string, LogSource>()
  private state: LogState
  private fd: number
  private saved = ''
  private readonly rotation: LogRotation
  private readonly note: BehindNote
  private readonly damage: LoadedLogState['damage']
  private readonly said = new SaidLines()
  private readonly batch = new BatchSize()
  private reader?: ReadOnChange
  // What the last poll left to do: more than it read (a burst), or a stderr line waiting for its stdout line's end.
  private next: NextRead = 'idle'

  constructor(
    private readonly home: Home,
    limits: LogsConfig = logsDefaults,
    // Where a failed poll is reported (once per distinct error); the supervisor keeps running either way.
    private readonly report: (line: string) => void = () => {},
    // The run whose process groups a dead writer may have left paused mid-rotation (resumed after checks).
    recorded: () => RecordedRun | undefined = () => undefined,
  ) {
    ensureHome(home)
    const { state, damage } = recover(home, recorded())
    this.state = state
    this.damage = damage
    this.note = new BehindNote(home, report)
    this.guarded(() => this.commit())
    this.fd = openAppend(unifiedLogPath(home))
    this.rotation = new LogRotation(home, limits, {
      sources: () => this.sources.values(),
      unifiedSize: () => fs.fstatSync(this.fd).size,
      reopenUnified: () => {
        fs.closeSync(this.fd)
        this.fd = openAppend(unifiedLogPath(home))
      },
      setPaused: (pgids) => {
        this.state.paused = pgids
        this.commit()
      },
      drain: (source) => this.drain([source], true),
      saveSources: () => {
        this.state.sources = this.snapshotAll()
        this.commit()
      },
    })
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
    this.guarded(() => this.commit())
    this.reader?.add(file, opts.stderrFile)
  }

  // From now on, reads whenever a followed file changes (or a clean is asked for), and every few seconds anyway.
  watch(safetyMs?: number): void {
    this.reader ??= new ReadOnChange(() => (this.poll(), this.next), safetyMs)
    this.reader.add(
      cleanRequestPath(this.home),
      ...[...this.sources.values()].flatMap((s) => [s.out.file, s.err?.file]),
    )
  }

  // Reads everything new from every file and appends it, prefixed; returns the number of lines.
  poll(): number {
    let lines = 0
    this.next = 'idle'
    try {
      this.serveCleanRequest()
      this.reopenIfGone()
      this.writeSaid()
      let more = false
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const r = this.cycle([...this.sources.values()], false)
        lines += r.lines
        more = r.more
        if (!r.more) break
      }
      this.rotation.rotateIfNeeded()
      this.note.succeeded(!more && this.said.empty)
      if (more || !this.said.empty) this.next = 'soon'
      else if ([...this.sources.values()].some((s) => s.deferring)) this.next = 'shortly'
    } catch (error) {
      // A full disk or a removed folder must not take the supervisor (and the restarts it does) down.
      this.note.failed(error)
    }
    return lines
  }

  // The process exited: whatever it printed without a final newline is still a line.
  flush(file: string): void {
    const source = this.sources.get(file)
    if (source) this.guarded(() => (this.drain([source]), this.cycle([source], true)))
  }

  close(): void {
    this.reader?.close()
    const all = [...this.sources.values()]
    try {
      this.writeSaid()
      this.drain(all)
      this.commit()
    } catch (error) {
      // What could not be written stays unread in the saved offsets: the next writer takes it from there.
      this.note.failed(error)
    }
    for (const source of all) source.close()
    fs.closeSync(this.fd)
  }

  // A line of the supervisor's own (an event), placed after everything `after` (a followed file) printed so far.
  // Written by a poll at once, or (a full disk) by the first poll that can, still before what was printed later.
  say(text: string, after?: string): void {
    this.said.add(text, after)
    this.poll()
  }

  private writeSaid(): void {
    const catchUp = (file: string) => this.sources.has(file) && this.drain([this.sources.get(file)!])
    this.said.flush(catchUp, (bytes) => this.append([bytes], this.snapshotAll()))
  }

  // A write that may fail (a full disk): noted, never thrown, since the supervisor must keep running.
  private guarded(write: () => void): void {
    try {
      write()
    } catch (error) {
      this.note.failed(error)
    }
  }

  // Said in the unified log itself and to the caller, so whoever reads either knows why lines may be missing.
  private noteDamage(damage: NonNullable<LoadedLogState['damage']>): void {
    const text = damageText(this.home, damage)
    this.report(text)
    this.guarded(() => fs.writeSync(this.fd, `${prefixLine('supervisor', text, 'err')}\n`))
  }

  // Truncates every log file in place and starts every offset over (see clean.ts).
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
      const plan = source.planCopy(final, force, this.batch.size)
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
        this.shrinkBatch(error)
        throw error
      }
    }
    const prev = this.snapshotAll()
    const chunks: Buffer[] = []
    let count = 0
    let more = false
    for (const source of list) {
      const r = source.readOut(final, this.batch.size)
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
    this.append(chunks, prev)
    return { lines: count, more }
  }

  // One append, recorded before it is written (with where every file was read to before it, `prev`).
  private append(chunks: Buffer[], prev: LogState['sources']): void {
    const length = chunks.reduce((n, c) => n + c.length, 0)
    const stat = fs.fstatSync(this.fd)
    this.state.pending = { ino: stat.ino, before: stat.size, after: stat.size + length, prev }
    try {
      this.commit()
      writeAll(this.fd, chunks, length)
    } catch (error) {
      this.undo(prev, stat.size)
      this.shrinkBatch(error)
      throw error
    }
    this.state.pending = undefined
    this.batch.fitted()
  }

  // No room for the batch: a smaller one is tried soon, until one fits or the smallest does not.
  private shrinkBatch(error: unknown): void {
    if (noSpace(error) && this.batch.shrink()) this.next = 'soon'
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

  // Someone deleted or moved the unified log: start a new one rather than write into a file nobody sees.
  private reopenIfGone(): void {
    const now = fs.statSync(unifiedLogPath(this.home), { throwIfNoEntry: false })
    if (now && now.ino === fs.fstatSync(this.fd).ino) return
    ensureHome(this.home)
    const fd = openAppend(unifiedLogPath(this.home))
    fs.closeSync(this.fd)
    this.fd = fd
  }
}
