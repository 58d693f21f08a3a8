// Linux: TCP sockets from /proc/net/tcp and tcp6, and which process holds one (through /proc/*/fd).
import fs from 'node:fs'
import { commandLine } from './procfs.ts'

// Who holds a busy port: the listening process, or a connection whose local end it is.
export interface PortHolder {
  pid?: number
  command?: string
  // No listener, but a connection still holds the port as its local end.
  held?: string
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

// Who holds each of these busy ports: a listener's process, else a connection on the port.
export function portHolders(ports: number[]): Map<number, PortHolder> {
  const sockets = listeningSockets()
  return new Map(
    ports.map((port) => [
      port,
      sockets.has(port) ? { ...socketOwner(sockets.get(port)!) } : { held: localConnection(port) },
    ]),
  )
}
