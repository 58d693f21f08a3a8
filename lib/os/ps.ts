// Process behaviour on systems without /proc (macOS): identity from `ps -o lstart`, port owners from lsof;
// there is no process table or environment to read, so only recorded processes are known, by pid and start time.
import { createRequire } from 'node:module'
import { BackendManagerError } from '../core/errors.ts'
import { sameStart, type GroupRecord } from './process-record.ts'
import type { ProcStat } from './procfs.ts'
import type { PortHolder } from './procfs-net.ts'

// Loaded on use only: on Linux the status and stop paths never need child_process.
const childProcess = () => createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// `ps -o lstart=` gives the start time to the second; 'unknown' when ps cannot tell.
export function psStartTime(pid: number): string | undefined {
  if (!(pid > 0) || !pidExists(pid)) return undefined
  try {
    const out = childProcess()
      .execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      .trim()
    return out === '' ? undefined : `ps:${out}`
  } catch {
    return 'unknown'
  }
}

export const startTimeOf = psStartTime

export const processTable = (): ProcStat[] => []
export const bootTimeMs = () => 0
export const commandLine = (): string => '?'
// No command line to check: pid and start time decide alone.
export const commandArgs = (): string[] | undefined => undefined
export const environValue = (): string | undefined => undefined
export const writePosition = (): number | undefined => undefined

export function isRecordedProcess(record: GroupRecord): boolean {
  return record.pid > 1 && sameStart(psStartTime(record.pid), record.startTime)
}

// With no table to list a group, the recorded leader, while it is the same process, stands for its group.
export function groupMembers(record: GroupRecord): ProcStat[] {
  return record.pgid > 1 && isRecordedProcess(record) ? [{ pid: record.pid, pgrp: record.pgid } as ProcStat] : []
}

// A pause cannot be confirmed without /proc: files rotate with the writers running.
export const pauseGroup = (): number | undefined | false => undefined

export function everyProcess(purpose: string): ProcStat[] {
  throw new BackendManagerError('STATE', `${purpose} finds processes through /proc, which this system does not have`)
}

export function portHolders(ports: number[]): Map<number, PortHolder> {
  return new Map(ports.map((port) => [port, lsofOwner(port) ?? {}]))
}

function lsofOwner(port: number): { pid: number; command: string } | undefined {
  const { execFileSync } = childProcess()
  try {
    const pid = Number(
      execFileSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-t'], { encoding: 'utf8' }).split('\n')[0],
    )
    if (!pid) return undefined
    const command = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim()
    return { pid, command }
  } catch {
    return undefined
  }
}
