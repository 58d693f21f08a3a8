import fs from 'node:fs'
import path from 'node:path'
import type { Home } from './home.ts'
import { writeJsonAtomic } from './state.ts'

export const PREFIX_WIDTH = 20
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*(?:\x07|\x1b\\)/g
const READ_CHUNK = 1 << 20

export const unifiedLogPath = (home: Home) => path.join(home.logs, 'backend-unified.log')
export const processLogPath = (home: Home, id: string) => path.join(home.logs, `${id}.log`)
export const offsetsPath = (home: Home) => path.join(home.run, 'log-offsets.json')

export function prefixLine(id: string, line: string): string {
  return `${id.padEnd(PREFIX_WIDTH)}>> ${line}`
}

// What a line looks like in a file: no colour codes, and for progress output only its final state.
export function cleanLine(raw: string): string {
  const noColour = raw.replace(ANSI, '')
  const trimmed = noColour.endsWith('\r') ? noColour.slice(0, -1) : noColour
  const lastCr = trimmed.lastIndexOf('\r')
  return lastCr >= 0 ? trimmed.slice(lastCr + 1) : trimmed
}

interface Source {
  id: string
  file: string
  offset: number
}

// Builds the unified log by following each process's own log file from a saved offset, so a
// supervisor that restarts (or takes over) continues exactly where the last one stopped.
export class UnifiedLog {
  private readonly sources = new Map<string, Source>()
  private readonly unifiedFd: number
  private readonly saved: Record<string, number>

  constructor(private readonly home: Home) {
    fs.mkdirSync(home.logs, { recursive: true })
    this.unifiedFd = fs.openSync(unifiedLogPath(home), 'a')
    this.saved = readOffsets(home)
  }

  // Starts following a file at its saved offset, else at its start (or its end, for a file with old content).
  follow(id: string, file: string, fromEnd = false): void {
    if (this.sources.has(file)) return
    const size = fileSize(file)
    const offset = this.saved[file] !== undefined && this.saved[file] <= size ? this.saved[file] : fromEnd ? size : 0
    this.sources.set(file, { id, file, offset })
  }

  // Reads everything new from every file and appends it, prefixed, in one write per source.
  poll(): number {
    let lines = 0
    for (const source of this.sources.values()) lines += this.pollSource(source, false)
    if (lines > 0) this.saveOffsets()
    return lines
  }

  // The process exited: whatever it printed without a final newline is still a line.
  flush(file: string): void {
    const source = this.sources.get(file)
    if (!source) return
    this.pollSource(source, true)
    this.saveOffsets()
  }

  close(): void {
    for (const source of this.sources.values()) this.pollSource(source, false)
    this.saveOffsets()
    fs.closeSync(this.unifiedFd)
  }

  // Consumes whole lines only, so the saved offset always sits at a line start; `final` also takes
  // an unterminated last line (the process has exited).
  private pollSource(source: Source, final: boolean): number {
    let size = fileSize(source.file)
    // Truncated underneath us (logs clean): start again from the top.
    if (size < source.offset) source.offset = 0
    let count = 0
    while (size > source.offset) {
      const buffer = readAt(source.file, source.offset, Math.min(size - source.offset, READ_CHUNK))
      let end = buffer.lastIndexOf(0x0a) + 1
      if (end === 0) {
        if (!final && buffer.length < READ_CHUNK) break
        end = buffer.length
      }
      const lines = buffer.subarray(0, end).toString('utf8').split('\n')
      if (lines[lines.length - 1] === '') lines.pop()
      fs.writeSync(this.unifiedFd, lines.map((l) => prefixLine(source.id, cleanLine(l))).join('\n') + '\n')
      source.offset += end
      count += lines.length
      size = fileSize(source.file)
    }
    return count
  }

  private saveOffsets(): void {
    const offsets: Record<string, number> = {}
    for (const source of this.sources.values()) offsets[source.file] = source.offset
    writeJsonAtomic(offsetsPath(this.home), offsets)
  }
}

function readAt(file: string, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  const fd = fs.openSync(file, 'r')
  try {
    return buffer.subarray(0, fs.readSync(fd, buffer, 0, length, offset))
  } finally {
    fs.closeSync(fd)
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

function readOffsets(home: Home): Record<string, number> {
  try {
    const parsed = JSON.parse(fs.readFileSync(offsetsPath(home), 'utf8'))
    return parsed && typeof parsed === 'object' ? parsed : {}
  } catch {
    return {}
  }
}
