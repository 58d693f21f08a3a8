// What the writer of the unified log persists, so a writer that dies (even by SIGKILL) is replaced
// by one that continues exactly where it stopped: no line lost, none written twice.
import type { Home } from './home.ts'
import { generationPath, offsetsPath } from './log-paths.ts'
import { readJsonFile, writeJsonAtomic } from './state.ts'

export interface StreamState {
  file: string
  // The next byte to read.
  offset: number
  // Bytes already read that do not end in a newline yet (base64): the start of the next line.
  carry?: string
}

export interface SourceState {
  id: string
  out: StreamState
  err?: StreamState
  // Byte ranges of `out` holding stderr lines this writer appended, not yet read back.
  copies?: [number, number][]
}

// The last write to the unified log: if it did not (fully) happen, `prev` is where to resume.
export interface PendingWrite {
  ino: number
  before: number
  after: number
  prev: Record<string, SourceState>
}

// Stderr lines about to be appended to a process's log file; after a crash the file is searched for them.
export interface CopyIntent {
  out: string
  errFrom: number
  errTo: number
  errCarry?: string
  outBefore: number
  final: boolean
}

export interface LogState {
  version: 2
  // Keyed by the process's log file.
  sources: Record<string, SourceState>
  pending?: PendingWrite
  copying?: CopyIntent[]
  // Process groups stopped (SIGSTOP) while their files rotate; resumed by whoever finds them here.
  paused?: number[]
}

const empty = (): LogState => ({ version: 2, sources: {} })

// Version 1 was a plain map of file -> offset.
export function readLogState(home: Home): LogState {
  const record = readJsonFile(offsetsPath(home))
  if (!record) return empty()
  if (record.version === 2 && record.sources && typeof record.sources === 'object') return record as unknown as LogState
  const sources: Record<string, SourceState> = {}
  for (const [file, offset] of Object.entries(record)) {
    if (typeof offset === 'number') sources[file] = { id: '', out: { file, offset } }
  }
  return { version: 2, sources }
}

export function writeLogState(home: Home, state: LogState): void {
  writeJsonAtomic(offsetsPath(home), state)
}

// A sequence number for in-place truncations (a seqlock): odd while files are being truncated, even
// otherwise. `events` remembers the last ones: what each did to which file (a clean, or a rotation at that size).
export type TruncationFiles = Record<string, { kind: 'clean' | 'rotate'; size: number }>

export interface Generation {
  gen: number
  events?: { gen: number; files: TruncationFiles }[]
}

const KEEP_EVENTS = 64

export function readGeneration(home: Home): Generation {
  const parsed = readJsonFile(generationPath(home))
  return typeof parsed?.gen === 'number' ? (parsed as unknown as Generation) : { gen: 0 }
}

export function beginTruncation(home: Home): void {
  const current = readGeneration(home)
  if (current.gen % 2 === 0) writeJsonAtomic(generationPath(home), { ...current, gen: current.gen + 1 })
}

export function endTruncation(home: Home, files: TruncationFiles): void {
  const current = readGeneration(home)
  const gen = current.gen % 2 === 1 ? current.gen + 1 : current.gen + 2
  writeJsonAtomic(generationPath(home), { gen, events: [...(current.events ?? []), { gen, files }].slice(-KEEP_EVENTS) })
}

// The truncations between two generations, oldest first; undefined when some are no longer remembered.
export function eventsBetween(from: Generation, to: Generation): TruncationFiles[] | undefined {
  const wanted = Math.floor(to.gen / 2) - Math.floor(from.gen / 2)
  const events = (to.events ?? []).filter((e) => e.gen > from.gen && e.gen <= to.gen)
  return events.length === wanted ? events.map((e) => e.files) : undefined
}

export const toBase64 = (bytes: Buffer) => (bytes.length ? bytes.toString('base64') : undefined)
export const fromBase64 = (text: string | undefined) => (text ? Buffer.from(text, 'base64') : Buffer.alloc(0))
