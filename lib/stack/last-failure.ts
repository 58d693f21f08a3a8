// Why the last start failed, kept in run/last-failure.json for a start nobody watched (--no-wait):
// written by the supervisor when its bring-up fails, shown by `status`, removed by the next start.
import fs from 'node:fs'
import path from 'node:path'
import type { Home } from '../core/home.ts'
import { readJsonFile, writeJsonAtomic } from '../core/json-files.ts'

export interface StartFailure {
  // The process that failed (name-instance), when one did; else the reason is about the whole start.
  id?: string
  reason: string
  logFile?: string
  // That process's last lines from this run.
  lines?: string[]
  // The process was a task (it runs to completion): it failed rather than did not become ready.
  task?: boolean
}

export interface LastFailure extends StartFailure {
  at: number
  config: string
  // Not a start: the running stack stopped itself, a process having failed for good under on_failure: stop-all.
  stoppedAll?: true
}

export const lastFailurePath = (home: Home) => path.join(home.run, 'last-failure.json')

export function describeStartFailure(f: StartFailure): string {
  const head = !f.id
    ? f.reason
    : f.task
      ? `task ${f.id} failed: ${f.reason}`
      : `${f.id} did not become ready: ${f.reason}`
  const lines = f.lines ?? []
  if (lines.length === 0) return head
  return (
    `${head}\nlast ${lines.length === 1 ? 'line' : `${lines.length} lines`} of ${f.logFile}:\n` +
    `${lines.map((l) => `  | ${l}`).join('\n')}`
  )
}

// The line `status` shows for it.
export function describeLastFailure(f: LastFailure): string {
  const at = new Date(f.at).toTimeString().slice(0, 8)
  if (f.stoppedAll)
    return `the stack stopped itself (at ${at}, config ${f.config}): ${f.id} failed for good (${f.reason}), and on_failure is stop-all`
  return `the last start failed (at ${at}, config ${f.config}): ${describeStartFailure(f)}`
}

export function writeLastFailure(home: Home, failure: LastFailure): void {
  writeJsonAtomic(lastFailurePath(home), failure)
}

// undefined when there is none, or when it is damaged (it only ever explains; nothing depends on it).
export function readLastFailure(home: Home): LastFailure | undefined {
  const raw = readJsonFile(lastFailurePath(home))
  if (typeof raw?.reason !== 'string' || typeof raw.at !== 'number' || typeof raw.config !== 'string') return undefined
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined)
  const lines = Array.isArray(raw.lines) ? raw.lines.filter((l): l is string => typeof l === 'string') : undefined
  const task = raw.task === true ? true : undefined
  const stoppedAll = raw.stoppedAll === true ? true : undefined
  return {
    at: raw.at,
    config: raw.config,
    reason: raw.reason,
    id: text(raw.id),
    logFile: text(raw.logFile),
    lines,
    task,
    stoppedAll,
  }
}

export function clearLastFailure(home: Home): void {
  fs.rmSync(lastFailurePath(home), { force: true })
}
