// What differs between Linux (/proc, linux.ts) and other systems (ps and lsof, ps.ts): one function per concern,
// chosen once here, so that callers never ask which system they run on.
import * as linux from './linux.ts'
import * as ps from './ps.ts'
import { hasProcfs, type ProcStat } from './procfs.ts'
import type { PortHolder } from './procfs-net.ts'
import { sameStart, type GroupRecord } from './process-record.ts'

interface Platform {
  // Identity: with the pid, the start time tells a process from a later one that reused its number.
  startTimeOf(pid: number): string | undefined
  // Every live process (zombies left out); empty where there is no table to read cheaply.
  processTable(): ProcStat[]
  // Every live process, or an error saying that `purpose` needs a process table this system lacks.
  everyProcess(purpose: string): ProcStat[]
  bootTimeMs(): number
  // For messages: the command line, '?' when it cannot be read.
  commandLine(pid: number): string
  // The argv a process started with; undefined where the system does not show it (pid and start time decide).
  commandArgs(pid: number): string[] | undefined
  environValue(pid: number, key: string): string | undefined
  // The recorded process itself (pid, start time and, where the environment can be read, this run's tag).
  isRecordedProcess(record: GroupRecord, runId?: string): boolean
  // The live members of a recorded group that may be signalled.
  groupMembers(record: GroupRecord, table: ProcStat[], runId?: string): ProcStat[]
  // Stops a group's writers for the end of a rotation: the group to resume, undefined for none, false: not in time.
  pauseGroup(record: GroupRecord | undefined, beforeStop: (pgid: number) => void): number | undefined | false
  // Who holds each of these busy ports.
  portHolders(ports: number[]): Map<number, PortHolder>
  // This process's file position on fd (the end of its last O_APPEND write), undefined when unknown.
  writePosition(fd: number): number | undefined
}

const platform: Platform = hasProcfs ? linux : ps

export const {
  startTimeOf,
  processTable,
  everyProcess,
  bootTimeMs,
  commandLine,
  commandArgs,
  environValue,
  isRecordedProcess,
  groupMembers,
  pauseGroup,
  portHolders,
  writePosition,
} = platform

// True only for the very process recorded: same pid and same start time, not a zombie.
export function isSameProcess(pid: number, startTime: string): boolean {
  return sameStart(startTimeOf(pid), startTime)
}

// Whether a process was started with `flag value` (nginx's `-c FILE`); undefined where its command line cannot be
// read. A retitled process shows its whole line as one argument ("nginx: master process ... -c FILE"), hence the split.
export function startedWith(pid: number, flag: string, value: string): boolean | undefined {
  const args = commandArgs(pid)
  if (!args) return undefined
  const words = args.join(' ').split(' ')
  return words.some((word, i) => word === value && words[i - 1] === flag)
}
