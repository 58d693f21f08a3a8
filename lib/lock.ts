import fs from 'node:fs'
import path from 'node:path'
import { BackendManagerError } from './errors.ts'
import type { Home } from './home.ts'
import { commandLine, isSameProcess, startTimeOf } from './procfs.ts'

interface LockOwner {
  pid: number
  startTime: string
  command: string
}

export interface Lock {
  release(): void
}

function readOwner(file: string): LockOwner | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
}

// An exclusive lock on the state dir; a lock whose holder is gone (or was replaced by a reused pid) is taken over.
export function acquireLock(home: Home, action: string): Lock {
  fs.mkdirSync(path.dirname(home.lock), { recursive: true })
  const me: LockOwner & { action: string } = { pid: process.pid, startTime: startTimeOf(process.pid) ?? 'unknown', command: action, action }
  // Written in full to a private file and then linked into place, so no one ever reads a half-written lock
  // (an empty one would look stale and be taken over while its holder is still writing it).
  const mine = `${home.lock}.${process.pid}`
  fs.writeFileSync(mine, JSON.stringify(me))
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        fs.linkSync(mine, home.lock)
        return {
          release() {
            if (readOwner(home.lock)?.pid === process.pid) fs.rmSync(home.lock, { force: true })
          },
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      // Released between our attempt and this look: try again, never remove a lock we have not read.
      if (!fs.existsSync(home.lock)) continue
      const owner = readOwner(home.lock)
      if (owner && owner.pid !== process.pid && isSameProcess(owner.pid, owner.startTime)) {
        throw new BackendManagerError(
          'LOCKED',
          `another "${owner.command}" (pid ${owner.pid}: ${commandLine(owner.pid)}) is in progress on ${home.root}; wait for it to finish, then try again`,
        )
      }
      if (!owner && !fs.existsSync(home.lock)) continue
      // Stale: the holder died without releasing. Remove and retry the exclusive create.
      fs.rmSync(home.lock, { force: true })
    }
  } finally {
    fs.rmSync(mine, { force: true })
  }
  throw new BackendManagerError('LOCKED', `could not take the lock ${home.lock}; remove it if no backend-manager command is running`)
}
