// Linux: processes as /proc shows them (stat, command line, environment, open files).
import fs from 'node:fs'

// One line of /proc/PID/stat, the fields the manager needs.
export interface ProcStat {
  pid: number
  comm: string
  state: string
  ppid: number
  pgrp: number
  session: number
  // CPU time in clock ticks, user + system.
  cpuTicks: number
  // Start time in clock ticks since boot: with the pid, a process's identity (pids get reused).
  startTime: string
  rssPages: number
}

export const CLOCK_TICKS = 100
export const PAGE_SIZE = 4096
export const hasProcfs = process.platform === 'linux' && fs.existsSync('/proc/self/stat')

export function parseStat(text: string): ProcStat | undefined {
  // comm may hold spaces and parentheses: it ends at the last ')'.
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < 0) return undefined
  const rest = text.slice(close + 2).split(' ')
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    cpuTicks: Number(rest[11]) + Number(rest[12]),
    startTime: rest[19],
    rssPages: Number(rest[21]),
  }
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return undefined
  }
}

// Every live process; zombies are left out since they hold no ports and cannot be signalled away.
export function processTable(): ProcStat[] {
  const out: ProcStat[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue
    const stat = readStat(Number(name))
    if (stat && stat.state !== 'Z' && stat.state !== 'X') out.push(stat)
  }
  return out
}

// The start time of a live process (zombies count as gone).
export function procStartTime(pid: number): string | undefined {
  const stat = readStat(pid)
  return stat && stat.state !== 'Z' ? stat.startTime : undefined
}

export function commandLine(pid: number): string {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return raw.split('\0').filter(Boolean).join(' ') || (readStat(pid)?.comm ?? '?')
  } catch {
    return '?'
  }
}

// The process's argv as it started (or as it rewrote it for a title), [] when unreadable.
export function commandArgs(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

// The environment the process started with, as NAME=value entries; undefined when it cannot be read.
export function environ(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
}

export function environValue(pid: number, key: string): string | undefined {
  const prefix = `${key}=`
  return environ(pid)
    ?.find((e) => e.startsWith(prefix))
    ?.slice(prefix.length)
}

// pid -> all descendants (and itself), from one table snapshot.
export function treeOf(root: number, table: ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>()
  for (const p of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p])
  const out: ProcStat[] = []
  const stack = table.filter((p) => p.pid === root)
  while (stack.length) {
    const p = stack.pop()!
    out.push(p)
    stack.push(...(children.get(p.pid) ?? []))
  }
  return out
}

// The resident memory of processes (a tree, as treeOf gives it), in bytes.
export function rssBytes(processes: ProcStat[]): number {
  return processes.reduce((sum, p) => sum + p.rssPages * PAGE_SIZE, 0)
}

export function bootTimeMs(): number {
  const line = fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('btime '))
  return Number(line?.split(' ')[1]) * 1000
}

// Where this process's file position on `fd` is: after an O_APPEND write, the end of what it wrote.
export function fdPosition(fd: number): number | undefined {
  try {
    const m = /^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}
