// The check run after ready: an HTTP, TCP or gRPC probe, or a command whose exit code says healthy (0) or not.
import { spawn } from 'node:child_process'
import net from 'node:net'
import type { HealthCheck } from '../config/plan.ts'
import { connectHost, probeSource, sourceRefused } from '../os/hosts.ts'
import { probe, type ProbeResult } from './readiness.ts'

// How much of a failing command's output its detail keeps: the last line, shortened.
const DETAIL_CHARS = 120

export interface CheckTarget {
  host: string
  port?: number
  cwd: string
  // The whole environment a command check runs with (the instance's, so it sees PORT, INSTANCE, ...).
  env: NodeJS.ProcessEnv
}

export function runCheck(check: HealthCheck, target: CheckTarget, timeoutMs: number): Promise<ProbeResult> {
  if (check.kind === 'command') return runCommand(check.argv, target, timeoutMs)
  if (check.kind === 'http' && target.port !== undefined)
    return probeStatusLine(target.host, target.port, check.path, timeoutMs)
  return probe(check, target.host, target.port, timeoutMs)
}

// An HTTP GET read only up to its status line, on a bare socket: the same answer as readiness's probeHttp for about
// half the CPU, which is what a stack checked every few seconds while idle spends on its checks.
export function probeStatusLine(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  const target = connectHost(host)
  const source = probeSource(target)
  return new Promise((resolve) => {
    let head = ''
    let settled = false
    const settle = (result: ProbeResult) => {
      if (!settled) resolve(result)
      settled = true
    }
    const done = (result: ProbeResult) => {
      socket.destroy()
      settle(result)
    }
    const socket = net.connect({ host: target, port, ...source })
    socket.setTimeout(timeoutMs, () => done({ ok: false, detail: `no HTTP answer within ${timeoutMs} ms` }))
    socket.once('connect', () => {
      const authority = target.includes(':') ? `[${target}]:${port}` : `${target}:${port}`
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`)
    })
    // The rest of the answer is read and dropped until the server closes, so it never writes into a reset connection.
    socket.on('data', (chunk: Buffer) => {
      if (settled) return
      head += chunk.toString('latin1')
      if (!head.includes('\n') && head.length < 1024) return
      const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1]
      if (!status) return done({ ok: false, detail: `not an HTTP answer: ${JSON.stringify(head.slice(0, 40))}` })
      const code = Number(status)
      settle({ ok: code >= 200 && code < 400, detail: `HTTP ${code}` })
    })
    socket.once('end', () => done({ ok: false, detail: 'the connection closed without an HTTP answer' }))
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (!sourceRefused(error, source)) return done({ ok: false, detail: error.code ?? error.message })
      socket.destroy()
      settled = true
      resolve(probeStatusLine(host, port, path, timeoutMs))
    })
  })
}

// The command in a group of its own, so a check that hangs is killed with whatever it started.
function runCommand(argv: string[], target: CheckTarget, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let output = ''
    let timedOut = false
    const child = spawn(argv[0], argv.slice(1), {
      cwd: target.cwd,
      env: target.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4096))
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    // Only while our own child is unreaped: its pid (and group) cannot belong to anyone else yet.
    const timer = setTimeout(() => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      timedOut = true
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }, timeoutMs)
    const settle = (result: ProbeResult) => {
      clearTimeout(timer)
      child.stdout!.destroy()
      child.stderr!.destroy()
      resolve(result)
    }
    child.once('error', (error) => settle({ ok: false, detail: `check could not run: ${error.message}` }))
    child.once('exit', (code, signal) => {
      if (timedOut) return settle({ ok: false, detail: `check gave no answer within ${timeoutMs / 1000} s` })
      if (code === 0) return settle({ ok: true, detail: 'check exit 0' })
      const last = output.trim().split('\n').pop()?.trim().slice(0, DETAIL_CHARS)
      const how = code === null ? `check killed by ${signal}` : `check exit ${code}`
      settle({ ok: false, detail: last ? `${how}: ${last}` : how })
    })
  })
}
