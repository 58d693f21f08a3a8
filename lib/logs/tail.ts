// The last lines of a file, read backwards from its end in blocks, optionally only those written after an offset.
import fs from 'node:fs'
import { NL } from './line.ts'
import { fileSize, readAt } from './paths.ts'

const BLOCK = 64 * 1024

export interface Tail {
  lines: string[]
  // Where the last whole line ends: a follower continues from here, so nothing is shown twice or skipped.
  end: number
}

// The last `count` whole lines of a file that pass `keep`, reading backwards from the end in blocks;
// with `from`, only lines that begin at or after that byte offset.
export function tailFile(file: string, count: number, keep: (line: string) => boolean = () => true, from = 0): Tail {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return { lines: [], end: 0 }
  }
  try {
    const size = fs.fstatSync(fd).size
    // A file truncated or rotated since `from` was taken holds only newer bytes.
    const floor = from <= size ? from : 0
    const lastByte = Buffer.alloc(1)
    // A last line still being written is left to the follower.
    let end = size
    if (size > floor && (fs.readSync(fd, lastByte, 0, 1, size - 1), lastByte[0] !== NL)) {
      end = lastNewlineBefore(fd, size, floor)
    }
    const found: string[] = []
    let head = Buffer.alloc(0)
    let start = end
    while (start > floor && found.length < count) {
      const length = Math.min(start - floor, BLOCK)
      start -= length
      const block = Buffer.allocUnsafe(length)
      fs.readSync(fd, block, 0, length, start)
      const text = Buffer.concat([block, head])
      // Bytes before the first newline may continue in the block before this one.
      const first = start > floor ? text.indexOf(NL) + 1 : 0
      if (start > floor && first === 0) {
        head = text
        continue
      }
      head = text.subarray(0, first)
      const lines = text.subarray(first).toString('utf8').split('\n')
      lines.pop()
      for (let i = lines.length - 1; i >= 0 && found.length < count; i--) if (keep(lines[i])) found.push(lines[i])
    }
    return { lines: found.reverse(), end }
  } finally {
    fs.closeSync(fd)
  }
}

function lastNewlineBefore(fd: number, size: number, floor: number): number {
  for (let start = size; start > floor;) {
    const length = Math.min(start - floor, BLOCK)
    start -= length
    const block = Buffer.allocUnsafe(length)
    fs.readSync(fd, block, 0, length, start)
    const at = block.lastIndexOf(NL)
    if (at >= 0) return start + at + 1
  }
  return floor
}

// The last `count` lines of a file, an unterminated last line included (for showing why something failed);
// with `from`, only what was written after that byte offset (one run's output, not the runs before it).
export function tailLines(file: string, count: number, from = 0): string[] {
  const { lines, end } = tailFile(file, count, () => true, from)
  const start = Math.max(end, from <= fileSize(file) ? from : 0)
  const partial = readAt(file, start, fileSize(file) - start)
    .toString('utf8')
    .replace(/\n$/, '')
  return partial ? [...lines, partial].slice(-count) : lines
}
