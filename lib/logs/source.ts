// One followed process: its log file (stdout, plus the stderr lines appended here) and its raw stderr file.
import fs from 'node:fs'
import type { GroupRecord } from '../os/process-record.ts'
import { formatLines, linePrefix, NL, utf8Boundary } from './line.ts'
import { fileSize, readAt } from './paths.ts'
import { fromBase64, toBase64, type CopyIntent, type SourceState, type StreamState } from './offsets.ts'
import { writePosition } from '../os/platform.ts'
import { openAppend } from '../core/safe-files.ts'

// The most one read or one stderr copy takes at a time; a nearly full disk gets less (see BatchSize).
const READ_CHUNK = 256 << 10
// The smallest read after batches that found no room: a few lines, so the log fills what room is left.
const MIN_BATCH = 4 << 10
// A line longer than this is cut: memory stays bounded for output that never prints a newline.
export const MAX_LINE = 1 << 20
// How long stderr lines wait for the process to finish a stdout line it is in the middle of.
const COPY_DEFER_MS = 1000
const NEWLINE = Buffer.from('\n')

export interface FollowOptions {
  // The process's raw stderr file: its lines are appended to the log file and marked in the unified log.
  stderrFile?: string
  // The process writing the files, paused for the last bytes of a rotation.
  group?: () => GroupRecord | undefined
  // For a file with nothing saved: skip what an earlier run left in it.
  fromEnd?: boolean
}

// One write for the whole batch (writev); the rest again if the kernel took only part of it.
export function writeAll(fd: number, chunks: Buffer[], length: number): void {
  const written = chunks.length <= 64 ? fs.writevSync(fd, chunks) : 0
  if (written >= length) return
  const rest = Buffer.concat(chunks).subarray(written)
  for (let at = 0; at < rest.length;) at += fs.writeSync(fd, rest, at)
}

export interface CopyPlan {
  bytes: Buffer
  rest: Buffer
  intent: CopyIntent
}

// The whole lines of `all` to copy (all of it when the process has exited), or undefined for none yet.
export function cutCopy(all: Buffer, final: boolean): { bytes: Buffer; rest: Buffer } | undefined {
  let cut = all.lastIndexOf(NL) + 1
  if (final) cut = all.length
  else if (cut === 0 && all.length >= MAX_LINE) cut = utf8Boundary(all, MAX_LINE)
  if (cut === 0) return undefined
  const body = all.subarray(0, cut)
  // A copied line always ends in a newline, so the next line in the file starts clean.
  const bytes = body[body.length - 1] === NL ? Buffer.from(body) : Buffer.concat([body, Buffer.from('\n')])
  return { bytes, rest: Buffer.from(all.subarray(cut)) }
}

// The end of the first occurrence of `bytes` in `file` at or after `from`.
export function locate(file: string, from: number, bytes: Buffer): number | undefined {
  const size = fileSize(file)
  for (let at = from; at < size; at += READ_CHUNK) {
    const chunk = readAt(file, at, Math.min(READ_CHUNK + bytes.length, size - at))
    const found = chunk.indexOf(bytes)
    if (found >= 0) return at + found + bytes.length
  }
  return undefined
}

// All of `bytes` at the end of the file, or none: a write cut short (no space left) is cut off again, so
// the file never keeps half a line that the next write would run into. Only when nothing was appended since.
function appendWhole(fd: number, bytes: Buffer): void {
  let done = 0
  try {
    while (done < bytes.length) done += fs.writeSync(fd, bytes, done)
  } catch (error) {
    const end = done > 0 ? writePosition(fd) : undefined
    if (end !== undefined && fs.fstatSync(fd).size === end) fs.ftruncateSync(fd, end - done)
    throw error
  }
}

interface Reader {
  file: string
  offset: number
  carry: Buffer
}

const reader = (file: string, offset: number): Reader => ({ file, offset, carry: Buffer.alloc(0) })
const saveReader = (r: Reader): StreamState => ({ file: r.file, offset: r.offset, carry: toBase64(r.carry) })
const loadReader = (s: StreamState): Reader => ({ file: s.file, offset: s.offset, carry: fromBase64(s.carry) })

export class LogSource {
  out: Reader
  err?: Reader
  copies: [number, number][] = []
  private appendFd?: number
  private deferredSince = 0
  private readonly prefix: { out: Buffer; err: Buffer }
  // Stderr bytes left unread by the last plan (more than one chunk), not counting a deferred copy.
  errBehind = false

  constructor(
    readonly id: string,
    outFile: string,
    errFile: string | undefined,
    readonly group: () => GroupRecord | undefined,
    saved: SourceState | undefined,
    fromEnd: boolean,
  ) {
    this.prefix = { out: linePrefix(id, 'out'), err: linePrefix(id, 'err') }
    // A saved offset past the end means the file was truncated while nobody followed it: read it all.
    const start = (file: string, s?: StreamState) =>
      s && s.file === file
        ? s.offset <= fileSize(file)
          ? loadReader(s)
          : reader(file, 0)
        : reader(file, fromEnd ? fileSize(file) : 0)
    this.out = start(outFile, saved?.out)
    if (errFile) this.err = start(errFile, saved?.err)
    if (saved?.copies && saved.out.file === outFile && saved.out.offset <= fileSize(outFile)) this.copies = saved.copies
  }

  snapshot(): SourceState {
    return {
      id: this.id,
      out: saveReader(this.out),
      err: this.err && saveReader(this.err),
      copies: this.copies.length ? this.copies.map((c) => [c[0], c[1]]) : undefined,
    }
  }

  // Trade-off: stderr has its own file so its lines can be marked; they reach the log file through this copy, a poll late.
  // The stderr lines to append to the log file now (whole lines only, unless the process has exited).
  planCopy(final: boolean, force = false, limit = READ_CHUNK): CopyPlan | undefined {
    const err = this.err
    this.errBehind = false
    if (!err) return undefined
    const size = fileSize(err.file)
    if (size < err.offset) Object.assign(err, { offset: 0, carry: Buffer.alloc(0) })
    // Nothing new, and at most part of a line left (copied when its newline comes or the process exits): no wait.
    if (size === err.offset && (err.carry.length === 0 || (!final && err.carry.length < MAX_LINE))) {
      this.deferredSince = 0
      return undefined
    }
    // Appending now would land inside an unfinished stdout line and tear it in the raw file: wait a little.
    if (!final && !force && !this.atLineStart()) {
      this.deferredSince ||= Date.now()
      if (Date.now() - this.deferredSince < COPY_DEFER_MS) return undefined
    }
    this.deferredSince = 0
    const data = readAt(err.file, err.offset, Math.min(size - err.offset, limit))
    this.errBehind = err.offset + data.length < size
    const all = err.carry.length ? Buffer.concat([err.carry, data]) : data
    const cut = cutCopy(all, final)
    const intent: CopyIntent = {
      out: this.out.file,
      errFrom: err.offset,
      errTo: err.offset + data.length,
      errCarry: toBase64(err.carry),
      outBefore: 0,
      final,
    }
    if (!cut) {
      err.offset = intent.errTo
      err.carry = Buffer.from(all)
      return undefined
    }
    intent.outBefore = fileSize(this.out.file)
    return { bytes: cut.bytes, rest: cut.rest, intent }
  }

  // A stderr copy waits for the process to end its stdout line (read again shortly, not only on the next change).
  get deferring(): boolean {
    return this.deferredSince > 0
  }

  private atLineStart(): boolean {
    const size = fileSize(this.out.file)
    return size === 0 || readAt(this.out.file, size - 1, 1)[0] === NL
  }

  applyCopy(plan: CopyPlan): void {
    this.appendFd ??= openAppend(this.out.file)
    appendWhole(this.appendFd, plan.bytes)
    const end = writePosition(this.appendFd) ?? locate(this.out.file, plan.intent.outBefore, plan.bytes)
    if (end !== undefined) this.copies.push([end - plan.bytes.length, end])
    this.err!.offset = plan.intent.errTo
    this.err!.carry = plan.rest
  }

  // New lines of the log file, prefixed; stderr copies come out as stderr lines where they landed.
  readOut(final: boolean, limit = READ_CHUNK): { chunks: Buffer[]; count: number; more: boolean } {
    const out = this.out
    const size = fileSize(out.file)
    if (size < out.offset) this.restart('out')
    let end = Math.min(size, out.offset + limit)
    // A copied block is split only between its lines (a block can be bigger than the room a full disk leaves):
    // stop before it, or after its last whole line that fits, or at the end of a line longer than the limit.
    const cut = this.copies.find(([start, stop]) => start < end && stop > end)
    if (cut && cut[0] > out.offset) end = cut[0]
    else if (cut) {
      const last = readAt(out.file, out.offset, end - out.offset).lastIndexOf(NL)
      end = last >= 0 ? out.offset + last + 1 : Math.min(locate(out.file, end, NEWLINE) ?? cut[1], cut[1])
    }
    const data = readAt(out.file, out.offset, end - out.offset)
    end = out.offset + data.length
    const result = { chunks: [] as Buffer[], count: 0, more: false }
    const add = (prefix: Buffer, bytes: Buffer) => {
      const f = formatLines(prefix, bytes)
      if (f.count) result.chunks.push(f.data)
      result.count += f.count
    }
    let pos = out.offset
    for (const [from, to] of this.copies) {
      // The part of the block read now (the rest of a block split by the last read starts at its offset).
      const [start, stop] = [Math.max(from, pos), Math.min(to, end)]
      if (start >= stop) continue
      this.takeOut(data.subarray(pos - out.offset, start - out.offset), add)
      add(this.prefix.err, data.subarray(start - out.offset, stop - out.offset))
      pos = stop
    }
    this.takeOut(data.subarray(pos - out.offset), add)
    if (final && out.carry.length) {
      add(this.prefix.out, out.carry)
      out.carry = Buffer.alloc(0)
    }
    out.offset = end
    this.copies = this.copies.filter((c) => c[1] > end).map(([start, stop]) => [Math.max(start, end), stop])
    result.more = end < fileSize(out.file)
    return result
  }

  // Stdout bytes: whole lines go out, the rest waits in the carry for its newline.
  private takeOut(bytes: Buffer, add: (prefix: Buffer, bytes: Buffer) => void): void {
    const out = this.out
    let all = out.carry.length ? Buffer.concat([out.carry, bytes]) : bytes
    const cut = all.lastIndexOf(NL) + 1
    add(this.prefix.out, all.subarray(0, cut))
    all = all.subarray(cut)
    while (all.length >= MAX_LINE) {
      const at = utf8Boundary(all, MAX_LINE)
      add(this.prefix.out, all.subarray(0, at))
      all = all.subarray(at)
    }
    out.carry = Buffer.from(all)
  }

  // The file was emptied (clean, rotation, or someone else): read it again from its start.
  restart(which: 'out' | 'err', keepCarry = false): void {
    const r = which === 'out' ? this.out : this.err
    if (!r) return
    r.offset = 0
    if (!keepCarry) r.carry = Buffer.alloc(0)
    if (which === 'out') this.copies = []
  }

  // Back to a snapshot taken before a batch that could not be written (a full disk): read it again later.
  restore(saved: SourceState): void {
    this.out = loadReader(saved.out)
    if (this.err && saved.err) this.err = loadReader(saved.err)
    this.copies = saved.copies ? saved.copies.map((c) => [c[0], c[1]]) : []
  }

  close(): void {
    if (this.appendFd !== undefined) fs.closeSync(this.appendFd)
    this.appendFd = undefined
  }
}

// How much one read of a file takes: halved after a write that found no room (a batch bigger than the room left
// would fail again and again), doubled back after one that fitted.
export class BatchSize {
  size = READ_CHUNK

  fitted(): void {
    this.size = Math.min(READ_CHUNK, this.size * 2)
  }

  // Whether there is a smaller size left to try.
  shrink(): boolean {
    if (this.size === MIN_BATCH) return false
    this.size = Math.max(MIN_BATCH, this.size / 2)
    return true
  }
}
