// The writer's side of "the unified log is behind": each distinct failure reported once, and why it cannot be
// written (a full disk) kept in run/log-behind.json for `status` until it has caught up again.
import fs from 'node:fs'
import type { Home } from '../core/home.ts'
import { logBehindPath, writeFailure } from './paths.ts'
import { writeJsonAtomic } from '../core/json-files.ts'

export class BehindNote {
  private lastError = ''
  // Why the unified log could not be written (a full disk), until it has caught up again.
  private behind?: { reason: string; recorded: boolean }

  constructor(
    private readonly home: Home,
    private readonly report: (line: string) => void,
  ) {
    fs.rmSync(logBehindPath(home), { force: true })
  }

  // A poll went through: a failure after it is reported again, and once nothing is left unread it has caught up.
  succeeded(caughtUp: boolean): void {
    this.lastError = ''
    if (!caughtUp || !this.behind) return
    fs.rmSync(logBehindPath(this.home), { force: true })
    this.report(`unified log caught up (it was behind: ${this.behind.reason})`)
    this.behind = undefined
  }

  failed(error: unknown): void {
    const message = `unified log: ${error instanceof Error ? error.message : String(error)}`
    if (message !== this.lastError) this.report(message)
    this.lastError = message
    const reason = writeFailure(error)
    if (this.behind?.reason !== reason) this.behind = { reason, recorded: false }
    if (this.behind.recorded) return
    try {
      writeJsonAtomic(logBehindPath(this.home), { reason, since: new Date().toISOString(), pid: process.pid })
      this.behind.recorded = true
    } catch {
      // The disk is full: `status` sees it from the free space and the offsets instead.
    }
  }
}
