// Process behaviour on Linux: identity, the process table, command lines and environments all come from /proc.
import { sleepSync } from '../core/sleep.ts'
import { environ, environValue, processTable, procStartTime, readStat, type ProcStat } from './procfs.ts'
import { RUN_ENV, sameStart, type GroupRecord } from './process-record.ts'
import { resumeGroup } from './signal.ts'

export {
  bootTimeMs,
  commandArgs,
  commandLine,
  environValue,
  fdPosition as writePosition,
  processTable,
  procStartTime as startTimeOf,
} from './procfs.ts'
export { portHolders } from './procfs-net.ts'

const PAUSE_WAIT_MS = 200

// Whether the process's environment carries a tag of this run (set at spawn, inherited by what it starts).
function carriesRunTag(pid: number, runId: string): boolean {
  return environValue(pid, RUN_ENV)?.startsWith(`${runId}/`) ?? false
}

// The recorded process itself: pid above 1, start time, and this run's tag. A process that rewrote its
// environment area for its title (nginx, redis) shows no NAME=value entry at all: pid and start time decide then.
export function isRecordedProcess(record: GroupRecord, runId?: string): boolean {
  if (!(record.pid > 1) || !sameStart(procStartTime(record.pid), record.startTime)) return false
  if (runId === undefined) return true
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
  if (runId === undefined) return []
  return members.filter((m) => carriesRunTag(m.pid, runId))
}

// Stops every live member of the group and waits until the kernel says they are stopped. Returns the
// group to resume, undefined when there is nothing to pause, or false when they did not stop in time.
export function pauseGroup(
  record: GroupRecord | undefined,
  beforeStop: (pgid: number) => void,
): number | undefined | false {
  if (!record || record.pgid <= 1) return undefined
  const members = groupMembers(record, processTable())
  if (members.length === 0) return undefined
  beforeStop(record.pgid)
  try {
    process.kill(-record.pgid, 'SIGSTOP')
  } catch {
    return undefined
  }
  const deadline = Date.now() + PAUSE_WAIT_MS
  for (;;) {
    const running = members.filter((m) => {
      const state = readStat(m.pid)?.state
      return state !== undefined && state !== 'T' && state !== 't' && state !== 'Z' && state !== 'X'
    })
    if (running.length === 0) return record.pgid
    if (Date.now() > deadline) {
      resumeGroup(record.pgid)
      return false
    }
    sleepSync(1)
  }
}

// Every live process, for a search that cannot work from records alone (stop --force).
export function everyProcess(): ProcStat[] {
  return processTable()
}
