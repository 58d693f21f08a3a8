// The check run after ready: an HTTP, TCP or gRPC probe, or a command whose exit code says healthy (0) or not.
import { spawn } from 'node:child_process'
import type { HealthCheck } from '../config/plan.ts'
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
  if (check.kind !== 'command') return probe(check, target.host, target.port, timeoutMs)
  return runCommand(check.argv, target, timeoutMs)
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
