import fs from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import { environValue, hasProcfs, isSameProcess, processTable, startTimeOf, type ProcStat } from './procfs.ts'
import { openAppend } from './safe-files.ts'
import { RUN_ENV, type ProcessRecord } from './state.ts'

export interface SpawnRequest {
  argv: string[]
  cwd: string
  env: Record<string, string>
  logFile: string
  // Where stderr goes, when not into logFile with stdout.
  stderrFile?: string
  // Written into the child's environment as RUN_ENV, inherited by everything it starts.
  runTag: string
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
      env: { ...baseEnv, ...req.env, [RUN_ENV]: req.runTag },
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

// The live members of a recorded process group, or [] when the group is gone or the pid was reused.
// While any member lives the kernel does not hand the group's number out again, so a leaderless group is still ours.
export function groupMembers(record: Pick<ProcessRecord, 'pid' | 'pgid' | 'startTime'>, table: ProcStat[]): ProcStat[] {
  const members = table.filter((p) => p.pgrp === record.pgid)
  const leader = table.find((p) => p.pid === record.pgid)
  if (leader && leader.pgrp === record.pgid && !isSameProcess(record.pid, record.startTime)) return []
  return members
}

export function signalGroup(record: Pick<ProcessRecord, 'pid' | 'pgid' | 'startTime'>, sig: NodeJS.Signals, table?: ProcStat[]): boolean {
  if (!hasProcfs) return isSameProcess(record.pid, record.startTime) && signal(-record.pgid, sig)
  const members = groupMembers(record, table ?? processTable())
  return members.length > 0 && signal(-record.pgid, sig)
}

// Descendants that left the group (setsid, double fork) still carry the run tag in their environment.
export function escapedProcesses(runId: string, knownGroups: Set<number>, table: ProcStat[]): { stat: ProcStat; tag: string }[] {
  const out: { stat: ProcStat; tag: string }[] = []
  for (const p of table) {
    if (knownGroups.has(p.pgrp) || p.pid === process.pid) continue
    const tag = environValue(p.pid, RUN_ENV)
    if (tag && tag.startsWith(`${runId}/`)) out.push({ stat: p, tag })
  }
  return out
}


export function killPid(pid: number, sig: NodeJS.Signals): boolean {
  return signal(pid, sig)
}
