// File operations for everything written under the home: never through a symbolic link, never a
// file or folder others can read (0600 files, 0700 folders whatever the umask), and errors that say
// which file, what went wrong and how to fix it, instead of a stack trace.
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { BackendManagerError } from './errors.ts'

export const FILE_MODE = 0o600
export const DIR_MODE = 0o700

const { O_WRONLY, O_RDONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants

// Why a write failed, in words, with what the user can do about it.
const HINTS: Record<string, string> = {
  EROFS: 'the file system is read-only; remount it writable or use another home (--home DIR)',
  ENOSPC: 'no space left on the device; free some space (e.g. "backend-manager logs clean") and try again',
  EDQUOT: 'the disk quota is exhausted; free some space and try again',
  EACCES: 'permission denied; check the owner and mode of the folder (ls -ld) or use another home (--home DIR)',
  EPERM:
    'not permitted (an immutable file or folder? see lsattr); remove the attribute (chattr -i) or use another home',
  ELOOP: 'it is a symbolic link, and nothing is written through links in the home; remove the link',
  ENOTDIR: 'a part of the path is not a folder; remove it',
  EISDIR: 'it is a folder; remove it',
  ENXIO: 'it is not a regular file (a FIFO or socket?); remove it',
}

// A file operation under the home that failed: the errno stays readable for callers that can carry on.
export class FileProblem extends BackendManagerError {
  constructor(
    readonly errno: string,
    readonly file: string,
    message: string,
  ) {
    super('STATE', message)
  }
}

export function errnoOf(error: unknown): string | undefined {
  if (error instanceof FileProblem) return error.errno
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

// The disk or folder refuses writes (read-only, immutable, full): commands that can work without writing carry on.
export function cannotWrite(error: unknown): boolean {
  return ['EROFS', 'ENOSPC', 'EDQUOT', 'EACCES', 'EPERM'].includes(errnoOf(error) ?? '')
}

export const noSpace = (error: unknown) => ['ENOSPC', 'EDQUOT'].includes(errnoOf(error) ?? '')

// "cannot write /h/run/lock (EROFS): the file system is read-only; ..."
export function fileProblem(error: unknown, verb: string, file: string): BackendManagerError {
  if (error instanceof BackendManagerError) return error
  const code = errnoOf(error)
  if (!code)
    return new BackendManagerError(
      'STATE',
      `cannot ${verb} ${file}: ${error instanceof Error ? error.message : String(error)}`,
    )
  const hint = HINTS[code] ?? (error as Error).message
  return new FileProblem(code, file, `cannot ${verb} ${file} (${code}): ${hint}`)
}

// A node errno error from anywhere (fs calls outside this module), told as plainly; anything else unchanged.
export function asFileProblem(error: unknown): unknown {
  const e = error as NodeJS.ErrnoException
  if (error instanceof BackendManagerError || !e || typeof e.code !== 'string' || !HINTS[e.code] || !e.path)
    return error
  return fileProblem(error, e.syscall === 'open' || e.syscall === 'write' ? 'write' : (e.syscall ?? 'use'), e.path)
}

function describeLink(file: string): string {
  try {
    return `${file} is a symbolic link (to ${fs.readlinkSync(file)})`
  } catch {
    return `${file} is a symbolic link`
  }
}

export function linkRefused(file: string): FileProblem {
  return new FileProblem(
    'ELOOP',
    file,
    `${describeLink(file)}; nothing is written through links in the home: remove it`,
  )
}

function notRegular(file: string, what: string): FileProblem {
  return new FileProblem(
    'EINVAL',
    file,
    `${file} is ${what}, not a regular file; nothing is written into it: remove it`,
  )
}

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder'
  if (stat.isFIFO()) return 'a FIFO'
  if (stat.isSocket()) return 'a socket'
  if (stat.isSymbolicLink()) return 'a symbolic link'
  return 'a device or special file'
}

// Refuses what exists at `file` unless it is a plain file; a missing file is fine.
export function checkExisting(file: string): void {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false })
  if (!stat || stat.isFile()) return
  if (stat.isSymbolicLink()) throw linkRefused(file)
  throw notRegular(file, kindOf(stat))
}

// Opens (creating 0600) without following a link; a FIFO is refused by the lstat before the open can hang.
function openSafe(file: string, flags: number, verb: string): number {
  checkExisting(file)
  let fd: number
  try {
    fd = fs.openSync(file, flags | O_NOFOLLOW, FILE_MODE)
  } catch (error) {
    if (errnoOf(error) === 'ELOOP') throw linkRefused(file)
    throw fileProblem(error, verb, file)
  }
  const stat = fs.fstatSync(fd)
  if (!stat.isFile()) {
    fs.closeSync(fd)
    throw notRegular(file, kindOf(stat))
  }
  return fd
}

// For a log file: append-only, created 0600, refused when it is a link or not a regular file.
export function openAppend(file: string): number {
  return openSafe(file, O_WRONLY | O_APPEND | O_CREAT, 'write')
}

// For reading a file of ours that must not be a link (a log about to be copied into an archive).
export function openRead(file: string): number {
  return openSafe(file, O_RDONLY, 'read')
}

// A new private file that must not exist yet (temporary files, lock files); errors are the caller's to tell.
export function createExclusive(file: string): number {
  return fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, FILE_MODE)
}

function writeFully(fd: number, data: Buffer): void {
  for (let at = 0; at < data.length;) at += fs.writeSync(fd, data, at)
}

// Written in full to a fresh private file, then renamed over `file`; a link planted there is refused by name.
export function writeFileAtomic(file: string, data: string | Buffer): void {
  checkExisting(file)
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fd = createExclusive(tmp)
  try {
    try {
      writeFully(fd, typeof data === 'string' ? Buffer.from(data) : data)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (error) {
    fs.rmSync(tmp, { force: true })
    throw fileProblem(error, 'write', file)
  }
}

export type TruncateResult = 'truncated' | 'missing' | { skipped: string }

// Why a file in the logs folder is not ours to truncate or remove (a link, a FIFO, ...); undefined for a regular file.
export function leftAlone(file: string, stat: fs.Stats): string | undefined {
  if (stat.isSymbolicLink()) return `${describeLink(file)}, left alone`
  if (!stat.isFile()) return `${file} is ${kindOf(stat)}, not a regular file, left alone`
  return undefined
}

// Truncates a regular file of ours in place; a link or anything else is left alone and named.
export function truncateRegular(file: string, size = 0): TruncateResult {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false })
  if (!stat) return 'missing'
  const skipped = leftAlone(file, stat)
  if (skipped) return { skipped }
  let fd: number
  try {
    fd = fs.openSync(file, O_WRONLY | O_NOFOLLOW | O_NONBLOCK)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 'missing'
    if (errnoOf(error) === 'ELOOP') return { skipped: `${describeLink(file)}, left alone` }
    throw fileProblem(error, 'truncate', file)
  }
  try {
    const now = fs.fstatSync(fd)
    if (!now.isFile() || now.ino !== stat.ino)
      return { skipped: `${file} changed while it was being truncated, left alone` }
    fs.ftruncateSync(fd, size)
    return 'truncated'
  } catch (error) {
    throw fileProblem(error, 'truncate', file)
  } finally {
    fs.closeSync(fd)
  }
}

// Removes one file (a link itself, never its target); a missing file is fine. Unlike fs.rmSync, an
// immutable folder's EPERM is reported as such rather than retried as a folder (ENOTDIR).
export function removeFile(file: string): void {
  try {
    fs.unlinkSync(file)
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw fileProblem(error, 'remove', file)
  }
}

// Removes a rotated copy of ours; a link is not ours to remove either.
export function removeRegular(file: string): TruncateResult {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false })
  if (!stat) return 'missing'
  const skipped = leftAlone(file, stat)
  if (skipped) return { skipped }
  try {
    fs.rmSync(file, { force: true })
  } catch (error) {
    throw fileProblem(error, 'remove', file)
  }
  return 'truncated'
}

// Creates `dir` (and what is missing between `root` and it) 0700; every folder from root down must be a
// real folder, not a link, so nothing created here lands outside the home.
export function makeDirsUnder(root: string, dir: string): void {
  const rel = path.relative(root, dir)
  if (rel.startsWith('..') || path.isAbsolute(rel))
    throw new BackendManagerError('STATE', `${dir} is not inside the home ${root}`)
  let at = root
  for (const part of rel.split(path.sep).filter(Boolean)) {
    at = path.join(at, part)
    const stat = fs.lstatSync(at, { throwIfNoEntry: false })
    if (stat?.isDirectory()) continue
    if (stat?.isSymbolicLink())
      throw new FileProblem('ELOOP', at, `${describeLink(at)}; the home's folders must be real folders: remove it`)
    if (stat) throw new FileProblem('ENOTDIR', at, `${at} is ${kindOf(stat)}, expected a folder: remove it`)
    try {
      fs.mkdirSync(at, { mode: DIR_MODE })
    } catch (error) {
      if (errnoOf(error) === 'EEXIST' && fs.lstatSync(at).isDirectory()) continue
      throw fileProblem(error, 'create the folder', at)
    }
  }
}

// The home itself: created 0700 when missing; refused when someone else owns it or others may write into it.
export function makeHomeDir(root: string): void {
  let stat = fs.statSync(root, { throwIfNoEntry: false })
  if (!stat) {
    try {
      // Folders on the way are made as mkdir -p makes them; the home itself is private.
      fs.mkdirSync(path.dirname(root), { recursive: true, mode: 0o755 })
      fs.mkdirSync(root, { mode: DIR_MODE })
    } catch (error) {
      throw fileProblem(error, 'create the home folder', root)
    }
    stat = fs.statSync(root)
  }
  checkHomeDir(root, stat)
}

export function checkHomeDir(root: string, stat = fs.statSync(root)): void {
  if (!stat.isDirectory())
    throw new FileProblem(
      'ENOTDIR',
      root,
      `the home ${root} is not a folder; remove it or use another home (--home DIR)`,
    )
  const uid = process.getuid?.()
  if (uid !== undefined && stat.uid !== uid)
    throw new FileProblem(
      'UNSAFE',
      root,
      `the home ${root} is owned by uid ${stat.uid}, not by you (uid ${uid})` +
        `; use a home of your own (--home DIR) or "chown ${uid} ${root}"`,
    )
  if (stat.mode & 0o022) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0')
    throw new FileProblem(
      'UNSAFE',
      root,
      `the home ${root} has mode ${mode}: others could plant files or links in it; fix it with "chmod 700 ${root}"`,
    )
  }
}
