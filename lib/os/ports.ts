// Ports: whether a server could bind one, who holds it, TCP probes, and waiting until ports are released.
import net from 'node:net'
import { bareHost, connectHost, probeSource, sourceRefused } from './hosts.ts'
import { portHolders } from './platform.ts'
import type { PortHolder } from './procfs-net.ts'
import { BackendManagerError } from '../core/errors.ts'
import { sleep } from '../core/sleep.ts'

export interface BusyPort extends PortHolder {
  port: number
}

export interface Endpoint {
  port: number
  host: string
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
  const holders = portHolders(blocked.map((e) => e.port))
  return blocked.map(({ port }) => ({ port, ...holders.get(port) }))
}

// Refuses when a port of these (those that have one) is taken: the error names each port and its holder, then
// what was not done (`nothing was started`).
export async function refuseBusyPorts(endpoints: { port?: number; host: string }[], notDone: string): Promise<void> {
  const wanted = endpoints.flatMap(({ port, host }) => (port === undefined ? [] : [{ port, host }]))
  const busy = await busyPorts(wanted)
  if (busy.length) throw new BackendManagerError('PORT_BUSY', `${busy.map(describeBusy).join('\n')}\n${notDone}`)
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
