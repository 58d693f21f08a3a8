// Whether a process is ready: HTTP, TCP or gRPC probes, and the wait that polls them and says what it saw.
import http from 'node:http'
import { grpcHealthCheck, UNIMPLEMENTED } from './grpc.ts'
import type { Readiness } from '../config/plan.ts'
import { connectHost, probeSource, sourceRefused } from '../os/hosts.ts'
import { probeTcp, type ProbeResult } from '../os/ports.ts'
import { sleep } from '../core/sleep.ts'

export { probeTcp, type ProbeResult }

export function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  const target = connectHost(host)
  const source = probeSource(target)
  return new Promise((resolve) => {
    const req = http.get(
      { host: target, port, path, agent: false, timeout: timeoutMs, headers: { connection: 'close' }, ...source },
      (res) => {
        res.resume()
        const status = res.statusCode ?? 0
        resolve(
          status >= 200 && status < 400
            ? { ok: true, detail: `HTTP ${status}` }
            : { ok: false, detail: `HTTP ${status}` },
        )
      },
    )
    req.once('timeout', () => {
      req.destroy()
      resolve({ ok: false, detail: `no HTTP answer within ${timeoutMs} ms` })
    })
    req.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        sourceRefused(error, source)
          ? probeHttp(host, port, path, timeoutMs)
          : { ok: false, detail: error.code ?? error.message },
      ),
    )
  })
}

const GRPC_MIN_CALL_MS = 250

// The gRPC health service when the server has one, else TCP. A closed port is told apart far more
// cheaply by TCP, so the gRPC call is made only once the port accepts connections.
export async function probeGrpc(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const tcp = await probeTcp(host, port, timeoutMs)
  if (!tcp.ok) return tcp
  // A call needs a channel set up first; a sliver of time left would only ever report DEADLINE_EXCEEDED.
  const answer = await grpcHealthCheck(connectHost(host), port, Math.max(timeoutMs, GRPC_MIN_CALL_MS))
  if ('status' in answer) return { ok: answer.status === 'SERVING', detail: `grpc ${answer.status}` }
  if (answer.code === UNIMPLEMENTED) return { ok: true, detail: 'tcp ok (no gRPC health service)' }
  return { ok: false, detail: `grpc ${answer.error}` }
}

export function probe(
  readiness: Readiness,
  host: string,
  port: number | undefined,
  timeoutMs = 1000,
): Promise<ProbeResult> {
  if (readiness.kind === 'none' || port === undefined) return Promise.resolve({ ok: true, detail: 'no check' })
  if (readiness.kind === 'tcp') return probeTcp(host, port, timeoutMs)
  if (readiness.kind === 'grpc') return probeGrpc(host, port, timeoutMs)
  return probeHttp(host, port, readiness.path, timeoutMs)
}

// How long a portless process must stay up to count as started.
export const PORTLESS_SETTLE_MS = 300

// How often a wait that is taking a while says what the last check saw.
export const WAITING_EVERY_MS = 3000

// Failures that mean nothing accepted the connection at all (as opposed to a server answering badly).
const NOT_ACCEPTED = new Set(['not probed yet', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
const notAccepted = (r: ProbeResult) => !r.ok && (NOT_ACCEPTED.has(r.detail) || r.detail.startsWith('no TCP answer'))

// What the last check saw, in words: "no answer on :8003 yet (connection refused)", ":8003 answers HTTP 503".
export function describeWait(port: number, last: ProbeResult): string {
  if (last.detail === 'not probed yet') return `no answer on :${port} yet`
  if (last.detail === 'ECONNREFUSED') return `no answer on :${port} yet (connection refused)`
  if (/^HTTP \d+$/.test(last.detail)) return `:${port} answers ${last.detail}`
  return `:${port}: ${last.detail}`
}

// Polls until ready, the deadline passes, or `aborted()` says the process is gone. Short intervals first,
// since most dev servers are ready within a few hundred milliseconds. `waiting` hears every few seconds.
export async function waitReady(
  readiness: Readiness,
  host: string,
  port: number | undefined,
  timeoutMs: number,
  aborted: () => string | undefined,
  waiting?: (elapsedMs: number, saw: string) => void,
): Promise<ProbeResult> {
  const started = Date.now()
  if (readiness.kind === 'none' || port === undefined) {
    while (Date.now() - started < Math.min(PORTLESS_SETTLE_MS, timeoutMs)) {
      const why = aborted()
      if (why) return { ok: false, detail: why }
      await sleep(20)
    }
    const why = aborted()
    return why ? { ok: false, detail: why } : { ok: true, detail: 'alive' }
  }
  let last: ProbeResult = { ok: false, detail: 'not probed yet' }
  let accepted = false
  let nextWaiting = started + WAITING_EVERY_MS
  for (let attempt = 0; ; attempt++) {
    const why = aborted()
    if (why) return { ok: false, detail: why }
    const now = Date.now()
    const left = timeoutMs - (now - started)
    if (left <= 0) {
      const within = `not ready within ${timeoutMs / 1000} s`
      if (accepted) return { ok: false, detail: `${within} (last check: ${last.detail})` }
      const hint = `does the command listen on $PORT (${port})?`
      return { ok: false, detail: `${within}: nothing ever accepted a connection on port ${port}; ${hint}` }
    }
    if (waiting && now >= nextWaiting) {
      waiting(now - started, describeWait(port, last))
      nextWaiting = now + WAITING_EVERY_MS
    }
    last = await probe(readiness, host, port, Math.min(1000, left))
    if (last.ok) return last
    accepted ||= !notAccepted(last)
    await sleep(attempt < 50 ? 10 : 50)
  }
}
