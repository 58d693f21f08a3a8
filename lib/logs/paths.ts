// Where every log file and every piece of log bookkeeping lives in the state folder.
import fs from 'node:fs'
import path from 'node:path'
import type { Home } from '../core/home.ts'
import { errnoOf } from '../core/safe-files.ts'

export const unifiedLogPath = (home: Home) => path.join(home.logs, 'backend-unified.log')
// Raw stdout; the supervisor appends each stderr line here too, so the file holds both streams.
export const processLogPath = (home: Home, id: string) => path.join(home.logs, `${id}.log`)
// Raw stderr, written by the process itself: what the stderr lines in the unified log come from.
export const stderrLogPath = (home: Home, id: string) => path.join(home.logs, `${id}.stderr.log`)
export const nginxErrorLogPath = (home: Home) => path.join(home.logs, 'nginx-error.log')
export const nginxAccessLogPath = (home: Home) => path.join(home.logs, 'nginx-access.log')
export const envoyLogPath = (home: Home) => path.join(home.logs, 'envoy.log')
export const envoyAccessLogPath = (home: Home) => path.join(home.logs, 'envoy-access.log')
// Access logs the proxy process writes itself, by the proxy's id in the unified log.
export const proxyAccessLogs = (home: Home): [string, string][] => [
  ['nginx', nginxAccessLogPath(home)],
  ['envoy', envoyAccessLogPath(home)],
]

// How far the unified log has read each file, and what was in flight (see offsets.ts).
export const offsetsPath = (home: Home) => path.join(home.run, 'log-offsets.json')
// Bumped around every in-place truncation, so readers of a file know it started over.
export const generationPath = (home: Home) => path.join(home.run, 'log-generation.json')
// `logs clean` asks the live writer of the unified log to do it, and waits for the answer.
export const cleanRequestPath = (home: Home) => path.join(home.run, 'log-clean.request')
export const cleanDonePath = (home: Home) => path.join(home.run, 'log-clean.done')
// Present while the unified log cannot be written (a full disk): why, for `status`.
export const logBehindPath = (home: Home) => path.join(home.run, 'log-behind.json')

export const archivePath = (file: string, n: number) => `${file}.${n}`

const INSTANCE_LOG = /^([a-z0-9][a-z0-9_-]*-\d+)\.log$/
const ARCHIVE = /\.log\.\d+$/

// Instance ids that have a log file of their own, sorted.
export function loggedIds(home: Home): string[] {
  return listLogs(home)
    .map((name) => INSTANCE_LOG.exec(name)?.[1])
    .filter((id): id is string => id !== undefined)
    .sort()
}

// Every live log file (rotated copies excluded), as full paths.
export function liveLogFiles(home: Home): string[] {
  return listLogs(home)
    .filter((name) => name.endsWith('.log'))
    .map((name) => path.join(home.logs, name))
}

// Every rotated copy (`x.log.1`, `x.log.2`, ...), as full paths.
export function archivedLogFiles(home: Home): string[] {
  return listLogs(home)
    .filter((name) => ARCHIVE.test(name))
    .map((name) => path.join(home.logs, name))
}

function listLogs(home: Home): string[] {
  try {
    return fs.readdirSync(home.logs)
  } catch {
    return []
  }
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

export function readAt(file: string, offset: number, length: number): Buffer {
  if (length <= 0) return Buffer.alloc(0)
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return Buffer.alloc(0)
  }
  try {
    const buffer = Buffer.allocUnsafe(length)
    return buffer.subarray(0, fs.readSync(fd, buffer, 0, length, offset))
  } finally {
    fs.closeSync(fd)
  }
}

// Bytes an unprivileged writer can still put on the disk holding `dir`; Infinity when unknown.
export function freeBytes(dir: string): number {
  try {
    const s = fs.statfsSync(dir)
    return s.bavail * s.bsize
  } catch {
    return Infinity
  }
}

const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
}

// A failed write in words: "no space left on device" rather than "ENOSPC: no space left on device, write".
export function writeFailure(error: unknown): string {
  const code = errnoOf(error)
  return (code && WRITE_ERRORS[code]) ?? (error instanceof Error ? error.message : String(error))
}
