// What the writer of the unified log persists, so a writer that dies (even by SIGKILL) is replaced
// by one that continues exactly where it stopped: no line lost, none written twice.
import fs from 'node:fs'
import type { Home } from '../core/home.ts'
import { generationPath, offsetsPath } from './paths.ts'
import { readJsonFile, writeJsonAtomic } from '../core/json-files.ts'

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

// What was read back, and what of it had to be thrown away: `whole` when nothing in the file could be trusted,
// else the files whose saved position was unusable. Either way those files are taken from their end, not from 0.
export interface LoadedLogState {
  state: LogState
  damage?: { detail: string; whole: boolean; files: string[] }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function validStream(v: unknown): v is StreamState {
  return (
    isObject(v) &&
    typeof v.file === 'string' &&
    v.file !== '' &&
    isOffset(v.offset) &&
    (v.carry === undefined || (typeof v.carry === 'string' && BASE64.test(v.carry)))
  )
}

function validSource(file: string, v: unknown): v is SourceState {
  if (!isObject(v) || typeof v.id !== 'string' || !validStream(v.out) || v.out.file !== file) return false
  if (v.err !== undefined && !validStream(v.err)) return false
  const range = (c: unknown) => Array.isArray(c) && c.length === 2 && isOffset(c[0]) && isOffset(c[1]) && c[0] < c[1]
  return v.copies === undefined || (Array.isArray(v.copies) && v.copies.every(range))
}

function validSources(v: unknown): Record<string, SourceState> | undefined {
  if (!isObject(v)) return undefined
  return Object.entries(v).every(([file, s]) => validSource(file, s)) ? (v as Record<string, SourceState>) : undefined
}

function validIntent(v: unknown): v is CopyIntent {
  return (
    isObject(v) &&
    typeof v.out === 'string' &&
    isOffset(v.errFrom) &&
    isOffset(v.errTo) &&
    v.errFrom <= v.errTo &&
    isOffset(v.outBefore) &&
    typeof v.final === 'boolean' &&
    (v.errCarry === undefined || (typeof v.errCarry === 'string' && BASE64.test(v.errCarry)))
  )
}

function validPending(v: unknown): PendingWrite | undefined {
  if (!isObject(v) || !isOffset(v.ino) || !isOffset(v.before) || !isOffset(v.after) || v.before > v.after)
    return undefined
  const prev = validSources(v.prev)
  return prev && { ino: v.ino, before: v.before, after: v.after, prev }
}

// Every field is checked: a damaged file (emptied, garbage, null, a negative or non-number offset) must never
// make the unified log read a file again from its start, nor crash its writer.
export function parseLogState(text: string | undefined): LoadedLogState {
  if (text === undefined) return { state: empty() }
  const whole = (detail: string): LoadedLogState => ({ state: empty(), damage: { detail, whole: true, files: [] } })
  let record: unknown
  try {
    record = JSON.parse(text)
  } catch {
    return whole(text.trim() === '' ? 'empty' : 'not valid JSON')
  }
  if (!isObject(record))
    return whole(
      `expected an object, got ${record === null ? 'null' : Array.isArray(record) ? 'an array' : typeof record}`,
    )
  if (record.version !== 2) {
    // Version 1 was a plain map of file -> offset.
    const entries = Object.entries(record)
    if (entries.length === 0) return whole('no files listed')
    const state = empty()
    const bad: string[] = []
    for (const [file, offset] of entries) {
      if (isOffset(offset)) state.sources[file] = { id: '', out: { file, offset } }
      else bad.push(file)
    }
    return bad.length
      ? { state, damage: { detail: `bad offset for ${bad.join(', ')}`, whole: false, files: bad } }
      : { state }
  }
  if (!isObject(record.sources)) return whole('no "sources" object')
  const state = empty()
  const bad: string[] = []
  for (const [file, source] of Object.entries(record.sources)) {
    if (validSource(file, source)) state.sources[file] = source
    else bad.push(file)
  }
  const problems = bad.length ? [`bad entry for ${bad.join(', ')}`] : []
  if (record.pending !== undefined) {
    state.pending = validPending(record.pending)
    if (!state.pending) problems.push('bad "pending"')
  }
  if (record.copying !== undefined) {
    if (Array.isArray(record.copying) && record.copying.every(validIntent)) state.copying = record.copying
    else problems.push('bad "copying"')
  }
  if (record.paused !== undefined) {
    if (Array.isArray(record.paused) && record.paused.every((g) => Number.isSafeInteger(g) && (g as number) > 1))
      state.paused = record.paused as number[]
    else problems.push('bad "paused"')
  }
  // A bad record of the last write means the saved positions may be past lines never written: trust none of them.
  if (record.pending !== undefined && !state.pending) return whole(problems.join('; '))
  return problems.length ? { state, damage: { detail: problems.join('; '), whole: false, files: bad } } : { state }
}

export function loadLogState(home: Home): LoadedLogState {
  try {
    return parseLogState(fs.readFileSync(offsetsPath(home), 'utf8'))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ENOENT'
      ? parseLogState(undefined)
      : { state: empty(), damage: { detail: `cannot read it (${code})`, whole: true, files: [] } }
  }
}

export function readLogState(home: Home): LogState {
  return loadLogState(home).state
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
  writeJsonAtomic(generationPath(home), {
    gen,
    events: [...(current.events ?? []), { gen, files }].slice(-KEEP_EVENTS),
  })
}

// The truncations between two generations, oldest first; undefined when some are no longer remembered.
export function eventsBetween(from: Generation, to: Generation): TruncationFiles[] | undefined {
  const wanted = Math.floor(to.gen / 2) - Math.floor(from.gen / 2)
  const events = (to.events ?? []).filter((e) => e.gen > from.gen && e.gen <= to.gen)
  return events.length === wanted ? events.map((e) => e.files) : undefined
}

export const toBase64 = (bytes: Buffer) => (bytes.length ? bytes.toString('base64') : undefined)
export const fromBase64 = (text: string | undefined) => (text ? Buffer.from(text, 'base64') : Buffer.alloc(0))
