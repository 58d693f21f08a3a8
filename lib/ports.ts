import fs from 'node:fs'
import net from 'node:net'
import { execFileSync } from 'node:child_process'
import { connectHost } from './hosts.ts'
import { commandLine, hasProcfs } from './procfs.ts'

export interface BusyPort {
  port: number
  pid?: number
  command?: string
}

const LISTEN = '0A'

// port -> socket inodes of LISTEN entries in /proc/net/tcp and tcp6 (TIME_WAIT and others ignored).
export function listeningSockets(): Map<number, number[]> {
  const out = new Map<number, number[]>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10 || cols[3] !== LISTEN) continue
      const port = parseInt(cols[1].slice(cols[1].lastIndexOf(':') + 1), 16)
      out.set(port, [...(out.get(port) ?? []), Number(cols[9])])
    }
  }
  return out
}

// Which process holds a socket inode: walk /proc/*/fd (only done when a port is busy).
export function socketOwner(inodes: number[]): { pid: number; command: string } | undefined {
  const targets = new Set(inodes.map((i) => `socket:[${i}]`))
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let fds: string[]
    try {
      fds = fs.readdirSync(`/proc/${name}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (targets.has(fs.readlinkSync(`/proc/${name}/fd/${fd}`))) return { pid: Number(name), command: commandLine(Number(name)) }
      } catch {
        // The fd closed while we looked.
      }
    }
  }
  return undefined
}

function lsofOwner(port: number): { pid: number; command: string } | undefined {
  try {
    const pid = Number(execFileSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-t'], { encoding: 'utf8' }).split('\n')[0])
    if (!pid) return undefined
    const command = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim()
    return { pid, command }
  } catch {
    return undefined
  }
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

// Ports that have a LISTEN socket now, with their owner when it can be found.
export async function busyPorts(ports: number[], host = '127.0.0.1'): Promise<BusyPort[]> {
  if (hasProcfs) {
    const sockets = listeningSockets()
    return ports.filter((p) => sockets.has(p)).map((port) => ({ port, ...socketOwner(sockets.get(port)!) }))
  }
  const busy: BusyPort[] = []
  for (const port of ports) if (!(await canBind(port, host))) busy.push({ port, ...lsofOwner(port) })
  return busy
}

export function describeBusy(b: BusyPort): string {
  return `port ${b.port} is in use${b.pid ? ` by pid ${b.pid} (${b.command})` : ''}`
}

// Which endpoints still accept a TCP connection. A refused connect answers in microseconds, where a
// read of /proc/net/tcp walks the kernel's whole socket table (several ms on a machine with much memory).
export async function accepting(endpoints: { host: string; port: number }[], timeoutMs = 200): Promise<number[]> {
  const answers = await Promise.all(
    endpoints.map(
      ({ host, port }) =>
        new Promise<number | undefined>((resolve) => {
          const socket = net.connect({ host: connectHost(host), port })
          const done = (open: boolean) => {
            socket.destroy()
            resolve(open ? port : undefined)
          }
          socket.setTimeout(timeoutMs, () => done(true))
          socket.once('connect', () => done(true))
          socket.once('error', () => done(false))
        }),
    ),
  )
  return answers.filter((p): p is number => p !== undefined)
}
