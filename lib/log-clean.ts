// `logs clean`: every log file truncated in place (open file descriptors stay valid, the next line
// lands at offset 0), rotated copies removed. A live writer of the unified log does it itself, between
// two reads, so its offsets never point past an end; without one, the command does it under the lock.
import fs from 'node:fs'
import { randomBytes } from 'node:crypto'
import { BackendManagerError } from './errors.ts'
import type { Home } from './home.ts'
import { acquireLock } from './lock.ts'
import { archivedLogFiles, cleanDonePath, cleanRequestPath, liveLogFiles } from './log-paths.ts'
import { beginTruncation, endTruncation, readLogState, writeLogState, type SourceState, type TruncationFiles } from './log-state.ts'
import { sleep } from './sleep.ts'
import { readJsonFile, readState, supervisorAlive, writeJsonAtomic } from './state.ts'

const ANSWER_TIMEOUT_MS = 5000
// A request nobody answered in time is stale: a writer started later must not act on it.
const REQUEST_TTL_MS = 10_000

export interface CleanResult {
  files: number
  by: 'supervisor' | 'command'
}

// Truncates every live log file and removes rotated copies; returns what was done to each file.
export function truncateLogFiles(home: Home): { files: TruncationFiles; count: number } {
  const files: TruncationFiles = {}
  for (const file of liveLogFiles(home)) {
    try {
      files[file] = { kind: 'clean', size: fs.statSync(file).size }
      fs.truncateSync(file, 0)
    } catch {
      // Removed in the meantime: nothing to clean.
    }
  }
  for (const file of archivedLogFiles(home)) fs.rmSync(file, { force: true })
  return { files, count: Object.keys(files).length }
}

// Every file starts over: offsets at 0, no partial line, no stderr copy in flight.
export function resetSource(source: SourceState): SourceState {
  return { id: source.id, out: { file: source.out.file, offset: 0 }, err: source.err && { file: source.err.file, offset: 0 } }
}

// The command's own clean, for when nothing writes the unified log: the lock keeps a start out meanwhile.
function cleanHere(home: Home): number {
  beginTruncation(home)
  const { files, count } = truncateLogFiles(home)
  const state = readLogState(home)
  for (const [file, source] of Object.entries(state.sources)) state.sources[file] = resetSource(source)
  writeLogState(home, { version: 2, sources: state.sources, paused: state.paused })
  endTruncation(home, files)
  return count
}

// The writer's side: the id of a fresh request to answer, if any (the request is consumed).
export function takeCleanRequest(home: Home): string | undefined {
  const request = readJsonFile(cleanRequestPath(home))
  if (!request) return undefined
  fs.rmSync(cleanRequestPath(home), { force: true })
  return typeof request.id === 'string' && typeof request.at === 'number' && Date.now() - request.at < REQUEST_TTL_MS ? request.id : undefined
}

export function answerCleanRequest(home: Home, id: string, files: number): void {
  writeJsonAtomic(cleanDonePath(home), { id, files })
}

async function askWriter(home: Home, alive: () => boolean): Promise<number | undefined> {
  const id = randomBytes(6).toString('hex')
  writeJsonAtomic(cleanRequestPath(home), { id, at: Date.now() })
  const deadline = Date.now() + ANSWER_TIMEOUT_MS
  while (Date.now() < deadline && alive()) {
    const done = readJsonFile(cleanDonePath(home))
    if (done?.id === id) return Number(done.files)
    await sleep(20)
  }
  fs.rmSync(cleanRequestPath(home), { force: true })
  return undefined
}

export async function cleanLogs(home: Home): Promise<CleanResult> {
  const state = readState(home)
  const writerAlive = () => Boolean(state && supervisorAlive(state))
  if (writerAlive()) {
    const files = await askWriter(home, writerAlive)
    if (files !== undefined) return { files, by: 'supervisor' }
    if (writerAlive()) throw new BackendManagerError('LOCKED', `the supervisor (pid ${state!.supervisor.pid}) did not answer the clean request within ${ANSWER_TIMEOUT_MS / 1000} s; nothing was truncated`)
  }
  let lock
  try {
    lock = acquireLock(home, 'logs clean')
  } catch (error) {
    // A start holds the lock and is bringing the stack up: it writes the unified log, so ask it.
    const files = await askWriter(home, () => true)
    if (files !== undefined) return { files, by: 'supervisor' }
    throw error
  }
  try {
    return { files: cleanHere(home), by: 'command' }
  } finally {
    lock.release()
  }
}
