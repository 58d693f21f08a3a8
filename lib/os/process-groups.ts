// Managed processes: spawned in their own session and group, signalled only once verified to be this run's.
import fs from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import { environValue, groupMembers, processTable, startTimeOf } from './platform.ts'
import type { ProcStat } from './procfs.ts'
import { signal } from './signal.ts'
import { openAppend } from '../core/safe-files.ts'
import { sleep } from '../core/sleep.ts'
import { HOME_ENV, RUN_ENV, type GroupRecord } from './process-record.ts'

export interface SpawnRequest {
  argv: string[]
  cwd: string
  env: Record<string, string>
  logFile: string
  // Where stderr goes, when not into logFile with stdout.
  stderrFile?: string
  // Written into the child's environment as RUN_ENV, inherited by everything it starts.
  runTag: string
  // The home's path, written as HOME_ENV: finds the stack's processes when its state file is damaged.
  home?: string
}

export interface Spawned {
  child: ChildProcess
  pid: number
  startTime: string
}

// Each process gets its own session and process group, and writes straight into its own log file
// (opened for append, 0600, never through a link), so its output does not depend on the supervisor staying alive.
export function spawnManaged(req: SpawnRequest, baseEnv: NodeJS.ProcessEnv): Spawned {
  const fd = openAppend(req.logFile)
  // Own file so stderr lines can be told apart; the unified log's writer copies them into logFile too.
  let errFd = fd
  try {
    if (req.stderrFile) errFd = openAppend(req.stderrFile)
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
  try {
    const child = spawn(req.argv[0], req.argv.slice(1), {
      cwd: req.cwd,
      env: { ...baseEnv, ...req.env, [RUN_ENV]: req.runTag, ...(req.home ? { [HOME_ENV]: req.home } : {}) },
      detached: true,
      stdio: ['ignore', fd, errFd],
    })
    if (child.pid === undefined) {
      // spawn reports ENOENT asynchronously; surface it as a normal exit for the caller.
      return { child, pid: -1, startTime: '' }
    }
    return { child, pid: child.pid, startTime: startTimeOf(child.pid) ?? 'unknown' }
  } finally {
    fs.closeSync(fd)
    if (errFd !== fd) fs.closeSync(errFd)
  }
}

// Signals what groupMembers allows: the whole group at once when all of it (or when no table lists the group,
// and the recorded leader stands for it), else each member by pid.
export function signalGroup(record: GroupRecord, sig: NodeJS.Signals, runId?: string, table?: ProcStat[]): boolean {
  const snapshot = table ?? processTable()
  const members = groupMembers(record, snapshot, runId)
  if (members.length === 0) return false
  if (members.length >= snapshot.filter((p) => p.pgrp === record.pgid).length) return signal(-record.pgid, sig)
  return members.map((m) => signal(m.pid, sig)).some(Boolean)
}

// Descendants that left the group (setsid, double fork) still carry the run tag in their environment.
export function escapedProcesses(
  runId: string,
  knownGroups: Set<number>,
  table: ProcStat[],
): { stat: ProcStat; tag: string }[] {
  const out: { stat: ProcStat; tag: string }[] = []
  for (const p of table) {
    if (knownGroups.has(p.pgrp) || p.pid === process.pid) continue
    const tag = environValue(p.pid, RUN_ENV)
    if (tag && tag.startsWith(`${runId}/`)) out.push({ stat: p, tag })
  }
  return out
}

// Those of `procs` still alive in one table snapshot: the same pid with the same start time.
export function stillAlive(procs: ProcStat[], table: ProcStat[] = processTable()): ProcStat[] {
  return procs.filter((p) => table.some((q) => q.pid === p.pid && q.startTime === p.startTime))
}

// Waits up to `ms` for `procs` to exit, one table snapshot a poll; returns those still alive.
export async function waitGone(procs: ProcStat[], ms: number, pollMs = 10): Promise<ProcStat[]> {
  const deadline = Date.now() + ms
  let left = stillAlive(procs)
  while (left.length && Date.now() < deadline) {
    await sleep(pollMs)
    left = stillAlive(left)
  }
  return left
}

export function killPid(pid: number, sig: NodeJS.Signals): boolean {
  return signal(pid, sig)
}
