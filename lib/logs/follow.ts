// `logs -f`: follows log files as they grow, across a clean (truncation in place), a rotation by
// copy and truncate (the rest of the old bytes is read from the rotated copy), and a rotation by rename.
import fs from 'node:fs'
import type { Home } from '../core/home.ts'
import { decodeLines, NL } from './line.ts'
import { archivePath, readAt } from './paths.ts'
import { eventsBetween, readGeneration, type Generation } from './offsets.ts'

const READ_CHUNK = 1 << 20
// Rotated copies looked at when a renamed file has to be caught up.
const MAX_ARCHIVES = 100

export interface ReadResult {
  lines: string[]
  // Read up to its limit, with more after it.
  more?: boolean
  // Keeps what was read; without it the next read starts from the same place again.
  commit(): void
}

// Whole lines of carry + bytes, and what is left after the last newline.
function split(carry: Buffer, bytes: Buffer): { lines: string[]; carry: Buffer } {
  const all = carry.length ? Buffer.concat([carry, bytes]) : bytes
  const cut = all.lastIndexOf(NL) + 1
  return { lines: decodeLines(all.subarray(0, cut)), carry: Buffer.from(all.subarray(cut)) }
}

export class FileFollower {
  private fd?: number
  private ino = -1
  private carry: Buffer = Buffer.alloc(0)

  constructor(
    readonly file: string,
    private offset: number,
  ) {}

  read(): ReadResult {
    if (this.fd === undefined && !this.open()) return { lines: [], commit() {} }
    const now = fs.statSync(this.file, { throwIfNoEntry: false })
    // Moved aside (renamed) and replaced: finish the old file through the descriptor, then every newer
    // rotated copy in turn (several rotations may have passed since the last look), then the new file.
    if (now && now.ino !== this.ino) {
      const rest = this.readFd(this.offset, this.carry, Infinity)
      const lines = [...rest.lines]
      let carry = rest.carry
      for (const newer of this.newerArchives()) {
        const r = split(carry, fs.readFileSync(newer))
        lines.push(...r.lines)
        carry = r.carry
      }
      const old = this.fd!
      return {
        lines,
        // The new file may already hold lines.
        more: true,
        commit: () => {
          fs.closeSync(old)
          this.fd = undefined
          this.offset = 0
          this.carry = carry
        },
      }
    }
    const size = fs.fstatSync(this.fd!).size
    // Truncated by something that did not say so (an editor, `: > file`): start over.
    const from = size < this.offset ? 0 : this.offset
    const r = this.readFd(from, size < this.offset ? Buffer.alloc(0) : this.carry, READ_CHUNK)
    return {
      lines: r.lines,
      more: r.offset < size,
      commit: () => {
        this.offset = r.offset
        this.carry = r.carry
      },
    }
  }

  // The file was truncated in place: after a rotation its old bytes up to `event.size` are in the
  // rotated copy number `archive` (x.log.1, or x.log.2 when it has rotated again since).
  truncated(event: { kind: 'clean' | 'rotate'; size: number } | undefined, archive = 1): string[] {
    let lines: string[] = []
    if (event?.kind === 'rotate' && this.offset <= event.size) {
      const r = split(this.carry, readAt(archivePath(this.file, archive), this.offset, event.size - this.offset))
      lines = r.lines
      this.carry = r.carry
    } else {
      this.carry = Buffer.alloc(0)
    }
    this.offset = 0
    // The truncation was of the file at the path: a descriptor still on a file moved aside before it is done with.
    this.close()
    return lines
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd)
    this.fd = undefined
  }

  private open(): boolean {
    try {
      this.fd = fs.openSync(this.file, 'r')
    } catch {
      return false
    }
    const stat = fs.fstatSync(this.fd)
    this.ino = stat.ino
    if (this.offset > stat.size) this.offset = 0
    return true
  }

  // Rotated copies newer than the file the descriptor holds, oldest first.
  private newerArchives(): string[] {
    const found: string[] = []
    for (let n = 1; n <= MAX_ARCHIVES; n++) {
      const stat = fs.statSync(archivePath(this.file, n), { throwIfNoEntry: false })
      if (!stat || stat.ino === this.ino) break
      found.push(archivePath(this.file, n))
    }
    return found.reverse()
  }

  private readFd(from: number, carry: Buffer, limit: number): { lines: string[]; offset: number; carry: Buffer } {
    const size = fs.fstatSync(this.fd!).size
    const length = Math.max(Math.min(size - from, limit), 0)
    const buffer = Buffer.allocUnsafe(length)
    const got = length > 0 ? fs.readSync(this.fd!, buffer, 0, length, from) : 0
    return { ...split(carry, buffer.subarray(0, got)), offset: from + got }
  }
}

export interface FollowLoop {
  stop(): void
  done: Promise<void>
}

// Applies the truncations since the last look to each follower, in order, and returns what they had left.
function catchUp(
  followers: FileFollower[],
  seen: Generation,
  now: Generation,
  emit: (file: string, lines: string[]) => void,
): void {
  const events = eventsBetween(seen, now)
  for (const f of followers) {
    // Too many truncations to know which were which: take the file from its start.
    if (!events) {
      emit(f.file, f.truncated(undefined))
      continue
    }
    const mine = events.map((files) => files[f.file]).filter((e) => e !== undefined)
    let later = mine.filter((e) => e.kind === 'rotate').length
    for (const event of mine) {
      if (event.kind === 'rotate') later--
      emit(f.file, f.truncated(event, later + 1))
    }
  }
}

// One look at every follower, checking the truncation generation before and after the reads (a
// seqlock): a read that overlapped a truncation is thrown away and taken again from the new start.
export class FollowSet {
  private seen: Generation

  constructor(
    private readonly home: Home,
    readonly followers: FileFollower[],
    private readonly emit: (file: string, lines: string[]) => void,
  ) {
    this.seen = readGeneration(home)
  }

  // True when it is behind (a truncation under way, or more than one read takes): look again soon.
  tick(): boolean {
    const before = readGeneration(this.home)
    if (before.gen % 2 === 1) return true
    if (before.gen !== this.seen.gen) {
      catchUp(this.followers, this.seen, before, this.emit)
      this.seen = before
    }
    const reads = this.followers.map((f) => ({ f, r: f.read() }))
    if (readGeneration(this.home).gen !== before.gen) return true
    for (const { f, r } of reads) {
      r.commit()
      if (r.lines.length) this.emit(f.file, r.lines)
    }
    return reads.some(({ r }) => r.more)
  }
}

// Polls a FollowSet until stopped.
export function followFiles(
  home: Home,
  followers: FileFollower[],
  emit: (file: string, lines: string[]) => void,
  intervalMs = 100,
): FollowLoop {
  const set = new FollowSet(home, followers, emit)
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let wake: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    wake = resolve
    const loop = () => {
      if (stopped) return resolve()
      set.tick()
      timer = setTimeout(loop, intervalMs)
    }
    loop()
  })
  return {
    stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      for (const f of followers) f.close()
      wake()
    },
    done,
  }
}
