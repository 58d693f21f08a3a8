import fs from 'node:fs'
import net from 'node:net'
import { createRequire } from 'node:module'
import { bareHost, connectHost, probeSource, sourceRefused } from './hosts.ts'
import { commandLine, hasProcfs } from './procfs.ts'
import { sleep } from '../core/sleep.ts'

export interface BusyPort {
  port: number
  pid?: number
  command?: string
  // No listener, but a connection still holds the port as its local end.
  held?: string
}

export interface Endpoint {
  port: number
  host: string
}

const LISTEN = '0A'
const STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '06': 'TIME_WAIT',
  '08': 'CLOSE_WAIT',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '09': 'LAST_ACK',
  '0B': 'CLOSING',
}

interface SocketEntry {
  localPort: number
  remote: string
  state: string
  inode: number
}

// "0100007F:9003" (IPv4, little-endian) or a 32-digit IPv6 address, as /proc/net/tcp writes them.
function decodeAddress(hex: string): string {
  const [addr, port] = hex.split(':')
  const portNumber = parseInt(port, 16)
  if (addr.length === 8)
    return `${[3, 2, 1, 0].map((i) => parseInt(addr.slice(i * 2, i * 2 + 2), 16)).join('.')}:${portNumber}`
  return `[${addr}]:${portNumber}`
}

function socketTable(): SocketEntry[] {
  const out: SocketEntry[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10) continue
      out.push({
        localPort: parseInt(cols[1].slice(cols[1].lastIndexOf(':') + 1), 16),
        remote: cols[2],
        state: cols[3],
        inode: Number(cols[9]),
      })
    }
  }
  return out
}

// port -> socket inodes of LISTEN entries in /proc/net/tcp and tcp6 (TIME_WAIT and others ignored).
export function listeningSockets(): Map<number, number[]> {
  const out = new Map<number, number[]>()
  for (const s of socketTable())
    if (s.state === LISTEN) out.set(s.localPort, [...(out.get(s.localPort) ?? []), s.inode])
  return out
}

// A connection whose local end is this port (an earlier outgoing connection's ephemeral port, often in
// TIME_WAIT): it blocks a server's bind even with SO_REUSEADDR.
function localConnection(port: number): string | undefined {
  const entry = socketTable().find((s) => s.localPort === port && s.state !== LISTEN)
  return (
    entry && `a TCP connection in ${STATES[entry.state] ?? `state ${entry.state}`} to ${decodeAddress(entry.remote)}`
  )
}

// Which process holds a socket inode: walk /proc/*/fd (only done when a port is busy).
export function socketOwner(inodes: number[]): { pid: number; command: string } | undefined {
  const targets = new Set(inodes.map((i) => `socket:[${i}]`))
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    if (fdTargets(Number(name)).some((t) => targets.has(t)))
      return { pid: Number(name), command: commandLine(Number(name)) }
  }
  return undefined
}

// What a process's open file descriptors point at ("socket:[123]", paths); [] when it is gone or not ours to read.
function fdTargets(pid: number): string[] {
  let fds: string[]
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`)
  } catch {
    return []
  }
  const out: string[] = []
  for (const fd of fds) {
    try {
      out.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
    } catch {
      // The fd closed while we looked.
    }
  }
  return out
}

// The ports these processes listen on (read before they are stopped, when nothing else says which ports a stack has).
export function listeningPortsOf(pids: number[]): number[] {
  const byInode = new Map<string, number>()
  for (const [port, inodes] of listeningSockets()) for (const inode of inodes) byInode.set(`socket:[${inode}]`, port)
  const ports = new Set<number>()
  for (const pid of pids) {
    for (const target of fdTargets(pid)) {
      const port = byInode.get(target)
      if (port !== undefined) ports.add(port)
    }
  }
  return [...ports]
}

function lsofOwner(port: number): { pid: number; command: string } | undefined {
  // Only off Linux, and only for a busy port: loaded here so the common paths skip child_process.
  const { execFileSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')
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

// Whether a server could bind this port now, as node and nginx bind (SO_REUSEADDR): only
// "address in use" counts, not a host this machine cannot bind at all (the server will say so itself).
export function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'EADDRINUSE'))
    server.listen({ port, host: bareHost(host), exclusive: true }, () => server.close(() => resolve(true)))
  })
}

// Ports a server could not bind now (a listener, or a connection holding the port), with who holds them.
export async function busyPorts(endpoints: Endpoint[]): Promise<BusyPort[]> {
  // Binding answers in about a millisecond; /proc/net/tcp is read only to name what holds a port.
  const bound = await Promise.all(endpoints.map(async (e) => ((await canBind(e.port, e.host)) ? undefined : e)))
  const blocked = bound.filter((e): e is Endpoint => e !== undefined)
  if (blocked.length === 0) return []
  const sockets = hasProcfs ? listeningSockets() : new Map<number, number[]>()
  return blocked.map(({ port }) => {
    if (sockets.has(port)) return { port, ...socketOwner(sockets.get(port)!) }
    return hasProcfs ? { port, held: localConnection(port) } : { port, ...lsofOwner(port) }
  })
}

export function describeBusy(b: BusyPort): string {
  if (b.pid) return `port ${b.port} is in use by pid ${b.pid} (${b.command})`
  if (b.held) return `port ${b.port} is held by ${b.held}; the kernel releases it within a minute, or pick another port`
  return `port ${b.port} is in use`
}

export type ProbeResult = { ok: true; detail: string } | { ok: false; detail: string }

// One TCP connect, closed politely (a reset would make a server without a socket error handler crash).
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const target = connectHost(host)
  const source = probeSource(target)
  return new Promise((resolve) => {
    const socket = net.connect({ host: target, port, ...source })
    const done = (result: ProbeResult) => {
      socket.destroy()
      resolve(result)
    }
    socket.setTimeout(timeoutMs, () => done({ ok: false, detail: `no TCP answer within ${timeoutMs} ms` }))
    socket.once('connect', () => done({ ok: true, detail: 'tcp ok' }))
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (sourceRefused(error, source)) {
        socket.destroy()
        resolve(probeTcp(host, port, timeoutMs))
      } else done({ ok: false, detail: error.code ?? error.message })
    })
  })
}

// Which endpoints still accept a TCP connection. A refused connect answers in microseconds, where a
// read of /proc/net/tcp walks the kernel's whole socket table (several ms on a machine with much memory).
export async function accepting(endpoints: Endpoint[], timeoutMs = 200): Promise<number[]> {
  // Only a refused connection means nothing listens; a timeout or an odd error keeps the port counted.
  const answers = await Promise.all(
    endpoints.map(async ({ host, port }) => {
      const result = await probeTcp(host, port, timeoutMs)
      return result.ok || result.detail !== 'ECONNREFUSED' ? port : undefined
    }),
  )
  return answers.filter((p): p is number => p !== undefined)
}

// Waits up to `ms` until none of the endpoints accepts a connection; returns the ports that still do.
export async function waitReleased(endpoints: Endpoint[], ms: number, pollMs = 10): Promise<number[]> {
  const deadline = Date.now() + ms
  let listening = await accepting(endpoints)
  while (listening.length && Date.now() < deadline) {
    await sleep(pollMs)
    listening = await accepting(endpoints)
  }
  return listening
}
