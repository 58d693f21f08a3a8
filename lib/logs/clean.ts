// `logs clean`: every log file truncated in place (open file descriptors stay valid, the next line
// lands at offset 0), rotated copies removed. A live writer of the unified log does it itself, between
// two reads, so its offsets never point past an end; without one, the command does it under the lock.
import fs from 'node:fs'
import { randomBytes } from 'node:crypto'
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import { acquireLockIfWritable } from '../os/lock.ts'
import { archivedLogFiles, cleanDonePath, cleanRequestPath, liveLogFiles } from './paths.ts'
import {
  beginTruncation,
  endTruncation,
  readLogState,
  writeLogState,
  type SourceState,
  type TruncationFiles,
} from './offsets.ts'
import { leftAlone, noSpace, removeRegular, truncateRegular } from '../core/safe-files.ts'
import { sleep } from '../core/sleep.ts'
import { readJsonFile, writeJsonAtomic } from '../core/json-files.ts'

const ANSWER_TIMEOUT_MS = 5000
// A request nobody answered in time is stale: a writer started later must not act on it.
const REQUEST_TTL_MS = 10_000
const NO_SPACE = -1

export interface CleanResult {
  files: number
  by: 'supervisor' | 'command'
  // Links and other non-regular files in the logs folder, named: never truncated nor removed.
  skipped: string[]
}

// Truncates every live log file and removes rotated copies; returns what was done to each file.
// Only regular files of ours: a link planted in logs/ is left alone, and so is what it points to.
export function truncateLogFiles(home: Home): { files: TruncationFiles; count: number; skipped: string[] } {
  const files: TruncationFiles = {}
  const skipped: string[] = []
  for (const file of liveLogFiles(home)) {
    const size = fs.lstatSync(file, { throwIfNoEntry: false })?.size ?? 0
    const result = truncateRegular(file)
    if (result === 'truncated') files[file] = { kind: 'clean', size }
    else if (result !== 'missing') skipped.push(result.skipped)
  }
  for (const file of archivedLogFiles(home)) {
    const result = removeRegular(file)
    if (typeof result === 'object') skipped.push(result.skipped)
  }
  return { files, count: Object.keys(files).length, skipped }
}

// What a clean leaves alone, found before it runs (the live writer does not report it).
function unsafeLogFiles(home: Home): string[] {
  const skipped: string[] = []
  for (const file of [...liveLogFiles(home), ...archivedLogFiles(home)]) {
    const stat = fs.lstatSync(file, { throwIfNoEntry: false })
    const reason = stat && leftAlone(file, stat)
    if (reason) skipped.push(reason)
  }
  return skipped
}

// Every file starts over: offsets at 0, no partial line, no stderr copy in flight.
export function resetSource(source: SourceState): SourceState {
  return {
    id: source.id,
    out: { file: source.out.file, offset: 0 },
    err: source.err && { file: source.err.file, offset: 0 },
  }
}

// The command's own clean, for when nothing writes the unified log: the lock keeps a start out meanwhile.
function cleanHere(home: Home, notice: (line: string) => void): number {
  const marked = unlessFull(() => beginTruncation(home))
  // On a full disk the truncation comes first: it frees the space the bookkeeping needs.
  const { files, count } = truncateLogFiles(home)
  if (!marked) unlessFull(() => beginTruncation(home))
  const state = readLogState(home)
  for (const [file, source] of Object.entries(state.sources)) state.sources[file] = resetSource(source)
  const recorded =
    unlessFull(() => writeLogState(home, { version: 2, sources: state.sources, paused: state.paused })) &&
    unlessFull(() => endTruncation(home, files))
  if (!recorded)
    notice(
      'note: the disk is still full after the clean, so it is not recorded; the next "start" reads the emptied files from their start',
    )
  return count
}

// Runs a write; false when the disk is full, any other failure is thrown.
function unlessFull(write: () => void): boolean {
  try {
    write()
    return true
  } catch (error) {
    if (noSpace(error)) return false
    throw error
  }
}

// The writer's side: the id of a fresh request to answer, if any (the request is consumed).
export function takeCleanRequest(home: Home): string | undefined {
  const request = readJsonFile(cleanRequestPath(home))
  if (!request) return undefined
  fs.rmSync(cleanRequestPath(home), { force: true })
  return typeof request.id === 'string' && typeof request.at === 'number' && Date.now() - request.at < REQUEST_TTL_MS
    ? request.id
    : undefined
}

export function answerCleanRequest(home: Home, id: string, files: number): void {
  writeJsonAtomic(cleanDonePath(home), { id, files })
}

async function askWriter(home: Home, alive: () => boolean): Promise<number | undefined> {
  const id = randomBytes(6).toString('hex')
  const request = () => writeJsonAtomic(cleanRequestPath(home), { id, at: Date.now() })
  // A full disk: rotated copies are read by no one, so removing them first makes room for the request.
  if (!unlessFull(request)) {
    for (const file of archivedLogFiles(home)) removeRegular(file)
    if (!unlessFull(request)) return NO_SPACE
  }
  const deadline = Date.now() + ANSWER_TIMEOUT_MS
  while (Date.now() < deadline && alive()) {
    const done = readJsonFile(cleanDonePath(home))
    if (done?.id === id) return Number(done.files)
    await sleep(20)
  }
  fs.rmSync(cleanRequestPath(home), { force: true })
  return undefined
}

// Not even a clean request fits on the disk: the files are truncated here, and the writer, seeing them
// shorter than its offsets, reads them again from their start.
function cleanUnasked(home: Home, notice: (line: string) => void): number {
  notice('note: the disk is full, so the supervisor cannot be asked; truncating the log files here')
  const { files, count } = truncateLogFiles(home)
  unlessFull(() => beginTruncation(home)) && unlessFull(() => endTruncation(home, files))
  return count
}

// The live writer of the unified log, if there is one: its pid, and whether it is still that process.
export interface LogWriter {
  pid: number
  alive(): boolean
  // Asks it directly (its control socket); undefined when it does not answer, and the request file is used.
  clean?(): Promise<number | undefined>
}

export async function cleanLogs(
  home: Home,
  writer: LogWriter | undefined,
  notice: (line: string) => void = () => {},
): Promise<CleanResult> {
  const skipped = unsafeLogFiles(home)
  const writerAlive = () => Boolean(writer?.alive())
  if (writerAlive()) {
    const asked = await writer!.clean?.()
    if (asked !== undefined) return { files: asked, by: 'supervisor', skipped }
    const files = await askWriter(home, writerAlive)
    if (files === NO_SPACE) return { files: cleanUnasked(home, notice), by: 'command', skipped }
    if (files !== undefined) return { files, by: 'supervisor', skipped }
    if (writerAlive())
      throw new BackendManagerError(
        'LOCKED',
        `the supervisor (pid ${writer!.pid}) did not answer the clean request within ${ANSWER_TIMEOUT_MS / 1000} s; nothing was truncated`,
      )
  }
  let lock
  try {
    lock = acquireLockIfWritable(home, 'logs clean', notice)
  } catch (error) {
    // A start holds the lock and is bringing the stack up: it writes the unified log, so ask it.
    const files = await askWriter(home, () => true)
    if (files === NO_SPACE) return { files: cleanUnasked(home, notice), by: 'command', skipped }
    if (files !== undefined) return { files, by: 'supervisor', skipped }
    throw error
  }
  try {
    return { files: cleanHere(home, notice), by: 'command', skipped }
  } finally {
    lock.release()
  }
}
