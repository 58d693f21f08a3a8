import fs from 'node:fs'
import { fileSize, readAt } from './log-paths.ts'

const BLOCK = 64 * 1024
const NL = 0x0a

export interface Tail {
  lines: string[]
  // Where the last whole line ends: a follower continues from here, so nothing is shown twice or skipped.
  end: number
}

// The last `count` whole lines of a file that pass `keep`, reading backwards from the end in blocks.
export function tailFile(file: string, count: number, keep: (line: string) => boolean = () => true): Tail {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return { lines: [], end: 0 }
  }
  try {
    const size = fs.fstatSync(fd).size
    const lastByte = Buffer.alloc(1)
    // A last line still being written is left to the follower.
    let end = size
    if (size > 0 && (fs.readSync(fd, lastByte, 0, 1, size - 1), lastByte[0] !== NL)) {
      end = lastNewlineBefore(fd, size)
    }
    const found: string[] = []
    let head = Buffer.alloc(0)
    let start = end
    while (start > 0 && found.length < count) {
      const length = Math.min(start, BLOCK)
      start -= length
      const block = Buffer.allocUnsafe(length)
      fs.readSync(fd, block, 0, length, start)
      const text = Buffer.concat([block, head])
      // Bytes before the first newline may continue in the block before this one.
      const first = start > 0 ? text.indexOf(NL) + 1 : 0
      if (start > 0 && first === 0) {
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

function lastNewlineBefore(fd: number, size: number): number {
  for (let start = size; start > 0; ) {
    const length = Math.min(start, BLOCK)
    start -= length
    const block = Buffer.allocUnsafe(length)
    fs.readSync(fd, block, 0, length, start)
    const at = block.lastIndexOf(NL)
    if (at >= 0) return start + at + 1
  }
  return 0
}

// The last `count` lines of a file, an unterminated last line included (for showing why something failed).
export function tailLines(file: string, count: number): string[] {
  const { lines, end } = tailFile(file, count)
  const partial = readAt(file, end, fileSize(file) - end).toString('utf8').replace(/\n$/, '')
  return partial ? [...lines, partial].slice(-count) : lines
}
