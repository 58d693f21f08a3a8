// Reading the unified log by cursor: each read returns the new lines and a cursor (file identity, truncation
// generation, byte offset) from which the next read goes on, across `logs clean`, copy-truncate and rename rotation.
import fs from 'node:fs'
import { usageError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import { decodeLines, NL } from './line.ts'
import { eventsBetween, readGeneration, type Generation } from './offsets.ts'
import { archivePath, readAt, unifiedLogPath } from './paths.ts'
import { tailFile } from './tail.ts'

// More new bytes than this in one read: only the last ones are looked at.
const MAX_READ = 8 << 20
const MAX_ARCHIVES = 100

export interface CursorRead {
  lines: string[]
  // Matching new lines left out because there were more than the limit (the newest are kept).
  skipped: number
  cursor: string
}

interface Cursor {
  ino: number
  gen: number
  offset: number
}

const encode = (c: Cursor) => `${c.ino}.${c.gen}.${c.offset}`

function decode(text: string): Cursor {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (!m) throw usageError(`logs: cursor "${text}" is not one a logs call returned; omit it to start from the end`)
  return { ino: Number(m[1]), gen: Number(m[2]), offset: Number(m[3]) }
}

// The generation when no truncation is under way (odd: files are being truncated right now; wait it out).
async function settledGeneration(home: Home): Promise<Generation> {
  for (let tries = 0; ; tries++) {
    const gen = readGeneration(home)
    if (gen.gen % 2 === 0 || tries >= 100) return gen
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// Whole lines of bytes from `from` to the last newline, and where that newline ends.
function wholeLines(bytes: Buffer, from: number): { text: Buffer; end: number } {
  const cut = bytes.lastIndexOf(NL) + 1
  return { text: bytes.subarray(0, cut), end: from + cut }
}

// The rest of a file moved aside by a rename rotation (the one with the cursor's inode), then every newer copy.
function renamedRest(file: string, c: Cursor): Buffer[] {
  const parts: Buffer[] = []
  for (let n = 1; n <= MAX_ARCHIVES; n++) {
    const archived = archivePath(file, n)
    const stat = fs.statSync(archived, { throwIfNoEntry: false })
    if (!stat) break
    if (stat.ino === c.ino) {
      parts.unshift(readAt(archived, c.offset, stat.size - c.offset))
      return parts
    }
    parts.unshift(fs.readFileSync(archived))
  }
  // The old file is gone from the copies kept: what is in the copies newer than it is all there is.
  return parts
}

// What was written since the cursor: the parts a truncation or a rename moved to rotated copies, and the offset
// in the file now from which to go on.
function sinceCursor(file: string, c: Cursor, now: Generation, ino: number): { moved: Buffer[]; offset: number } {
  const moved: Buffer[] = []
  let offset = c.offset
  if (c.gen !== now.gen) {
    const events = eventsBetween({ gen: c.gen }, now)
    const mine = events?.map((files) => files[file]).filter((e) => e !== undefined)
    if (!mine) offset = 0
    else {
      let later = mine.filter((e) => e.kind === 'rotate').length
      for (const event of mine) {
        if (event.kind === 'rotate') {
          later--
          if (offset <= event.size) moved.push(readAt(archivePath(file, later + 1), offset, event.size - offset))
        }
        offset = 0
      }
    }
  }
  if (ino !== c.ino && c.ino !== 0) {
    moved.push(...renamedRest(file, { ...c, offset }))
    offset = 0
  }
  return { moved, offset }
}

// The new lines of the unified log that pass `keep`, at most `limit` (the newest); without a cursor, the last
// `limit` lines. The cursor returned points after the last whole line read.
export async function readLogSince(
  home: Home,
  cursorText: string | undefined,
  limit: number,
  keep: (line: string) => boolean = () => true,
): Promise<CursorRead> {
  const file = unifiedLogPath(home)
  const gen = await settledGeneration(home)
  const stat = fs.statSync(file, { throwIfNoEntry: false })
  const ino = stat?.ino ?? 0
  if (cursorText === undefined) {
    const tail = tailFile(file, limit, keep)
    return { lines: tail.lines, skipped: 0, cursor: encode({ ino, gen: gen.gen, offset: tail.end }) }
  }
  const c = decode(cursorText)
  const { moved, offset } = sinceCursor(file, c, gen, ino)
  const size = stat?.size ?? 0
  // Truncated by something that did not say so (`: > file`): it starts over.
  const from = offset <= size ? offset : 0
  // The unfinished last line is left for the next read.
  const whole = wholeLines(readAt(file, from, size - from), from)
  let bytes = Buffer.concat([...moved, whole.text])
  if (bytes.length > MAX_READ) bytes = bytes.subarray(bytes.indexOf(NL, bytes.length - MAX_READ) + 1)
  const matched = decodeLines(bytes).filter(keep)
  const lines = matched.slice(-limit)
  return { lines, skipped: matched.length - lines.length, cursor: encode({ ino, gen: gen.gen, offset: whole.end }) }
}
