import fs from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import { environ, environValue, hasProcfs, isSameProcess, processTable, startTimeOf, type ProcStat } from './procfs.ts'
import { openAppend } from '../core/safe-files.ts'
import { sleep } from '../core/sleep.ts'
import { HOME_ENV, RUN_ENV, type ProcessRecord } from './process-record.ts'

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

function signal(target: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(target, sig)
    return true
  } catch {
    return false
  }
}

type GroupRecord = Pick<ProcessRecord, 'pid' | 'pgid' | 'startTime'>

// Whether the process's environment carries a tag of this run (set at spawn, inherited by what it starts).
export function carriesRunTag(pid: number, runId: string): boolean {
  return environValue(pid, RUN_ENV)?.startsWith(`${runId}/`) ?? false
}

// The recorded process itself: pid above 1, start time, and this run's tag. A process that rewrote its
// environment area for its title (nginx, redis) shows no NAME=value entry at all: pid and start time decide then.
export function isRecordedProcess(record: GroupRecord, runId?: string): boolean {
  if (!(record.pid > 1) || !isSameProcess(record.pid, record.startTime)) return false
  if (!hasProcfs || runId === undefined) return true
  const env = environ(record.pid)
  if (env === undefined) return false
  const tag = env.find((e) => e.startsWith(`${RUN_ENV}=`))
  if (tag !== undefined) return tag.startsWith(`${RUN_ENV}=${runId}/`)
  return !env.some((e) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(e))
}

// The live members of a recorded process group that may be signalled: all of them while the recorded leader
// lives; once the leader is gone, only members carrying this run's tag (the number may have been reused).
// Without a runId (no tag to check), a leaderless group is left alone.
export function groupMembers(record: GroupRecord, table: ProcStat[], runId?: string): ProcStat[] {
  if (!(record.pgid > 1)) return []
  const members = table.filter((p) => p.pgrp === record.pgid)
  if (members.length === 0) return []
  const leader = members.find((p) => p.pid === record.pgid)
  if (leader) return leader.pid === record.pid && isRecordedProcess(record, runId) ? members : []
  if (runId === undefined || !hasProcfs) return []
  return members.filter((m) => carriesRunTag(m.pid, runId))
}

// Signals what groupMembers allows: the whole group at once when all of it, else each member by pid.
export function signalGroup(record: GroupRecord, sig: NodeJS.Signals, runId?: string, table?: ProcStat[]): boolean {
  if (!hasProcfs)
    return record.pid > 1 && record.pgid > 1 && isSameProcess(record.pid, record.startTime) && signal(-record.pgid, sig)
  const snapshot = table ?? processTable()
  const members = groupMembers(record, snapshot, runId)
  if (members.length === 0) return false
  if (members.length === snapshot.filter((p) => p.pgrp === record.pgid).length) return signal(-record.pgid, sig)
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
