// The lock on a state folder: one command changes a stack at a time; a lock whose holder is gone is taken over.
import fs from 'node:fs'
import { BackendManagerError } from '../core/errors.ts'
import { ensureHome, type Home } from '../core/home.ts'
import { commandLine, isSameProcess, startTimeOf } from './platform.ts'
import { cannotWrite, createExclusive, errnoOf, fileProblem } from '../core/safe-files.ts'
import { sleepSync } from '../core/sleep.ts'

interface LockOwner {
  pid: number
  startTime: string
  command: string
}

export interface Lock {
  release(): void
}

function readOwner(file: string): LockOwner | undefined {
  return readLock(file)?.owner
}

// The owner and the file's inode, read through one descriptor, so a later step can tell whether the
// lock file is still the very one that was read.
function readLock(file: string): { owner?: LockOwner; inode: number } | undefined {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return undefined
  }
  try {
    const inode = fs.fstatSync(fd).ino
    try {
      return { owner: JSON.parse(fs.readFileSync(fd, 'utf8')), inode }
    } catch {
      return { inode }
    }
  } finally {
    fs.closeSync(fd)
  }
}

const TAKEOVER_STALE_MS = 2000

// Serialises the removal of a stale lock: without it, a second taker could remove the fresh lock the
// first one has just made. A takeover file left by a taker that died is itself cleared after a while.
function takeOver(file: string, staleInode: number): void {
  const mutex = `${file}.takeover`
  try {
    fs.closeSync(createExclusive(mutex))
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error
    try {
      if (Date.now() - fs.statSync(mutex).mtimeMs > TAKEOVER_STALE_MS) fs.rmSync(mutex, { force: true })
    } catch {
      // Finished in the meantime.
    }
    // Another taker is at it: give it a moment before looking again.
    sleepSync(2)
    return
  }
  try {
    if (readLock(file)?.inode === staleInode) removeStale(file, staleInode)
  } finally {
    fs.rmSync(mutex, { force: true })
  }
}

// Removes the lock file only if it is still the stale one that was read: it is moved aside first
// (rename is atomic), and a fresh lock moved by mistake (another command took over first) goes back.
function removeStale(file: string, staleInode: number): void {
  const aside = `${file}.stale.${process.pid}`
  try {
    fs.renameSync(file, aside)
  } catch {
    return
  }
  try {
    if (fs.statSync(aside).ino !== staleInode) fs.linkSync(aside, file)
  } catch {
    // Someone locked in the meantime; theirs stands.
  } finally {
    fs.rmSync(aside, { force: true })
  }
}

function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true })
  } catch {
    // A read-only folder: there was nothing of ours to remove.
  }
}

// Our own lock file, 0600, never through a link; nothing is left behind when the disk refuses it.
function writeMine(mine: string, lock: string, text: string): void {
  removeQuietly(mine)
  let fd: number | undefined
  try {
    fd = createExclusive(mine)
    fs.writeSync(fd, text)
  } catch (error) {
    removeQuietly(mine)
    throw fileProblem(error, 'write the lock', lock)
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

// An exclusive lock on the state dir; a lock whose holder is gone (or was replaced by a reused pid) is taken over.
export function acquireLock(home: Home, action: string): Lock {
  ensureHome(home)
  const me: LockOwner & { action: string } = {
    pid: process.pid,
    startTime: startTimeOf(process.pid) ?? 'unknown',
    command: action,
    action,
  }
  // Written in full to a private file and then linked into place, so no one ever reads a half-written lock
  // (an empty one would look stale and be taken over while its holder is still writing it).
  const mine = `${home.lock}.${process.pid}`
  writeMine(mine, home.lock, JSON.stringify(me))
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        fs.linkSync(mine, home.lock)
        return {
          release() {
            if (readOwner(home.lock)?.pid === process.pid) fs.rmSync(home.lock, { force: true })
          },
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileProblem(error, 'create the lock', home.lock)
      }
      // Released between our attempt and this look: try again, never remove a lock we have not read.
      if (!fs.existsSync(home.lock)) continue
      const read = readLock(home.lock)
      if (!read) continue
      const owner = read.owner
      if (owner && owner.pid !== process.pid && isSameProcess(owner.pid, owner.startTime)) {
        throw new BackendManagerError(
          'LOCKED',
          `another "${owner.command}" (pid ${owner.pid}: ${commandLine(owner.pid)})` +
            ` is in progress on ${home.root}; wait for it to finish, then try again`,
        )
      }
      // Stale: the holder died without releasing. One taker at a time removes exactly that file; then
      // everyone retries the exclusive create.
      takeOver(home.lock, read.inode)
    }
  } finally {
    removeQuietly(mine)
  }
  throw new BackendManagerError(
    'LOCKED',
    `could not take the lock ${home.lock}; remove it if no backend-manager command is running`,
  )
}

// For commands that must work on a home that refuses writes (stop on a read-only or full disk): without
// a lock, with a notice, rather than not at all.
export function acquireLockIfWritable(home: Home, action: string, notice: (line: string) => void): Lock {
  try {
    return acquireLock(home, action)
  } catch (error) {
    if (!cannotWrite(error)) throw error
    notice(`${(error as Error).message}; going on without the lock`)
    return { release() {} }
  }
}
