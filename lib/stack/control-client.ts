// Asking the supervisor over its control socket (JSON over HTTP/1.1 on run/control.sock). Loaded by quick
// commands such as `status`, so it holds nothing but the client: no answer means "no supervisor", never an error.
import http from 'node:http'
import path from 'node:path'
import { BackendManagerError, isErrorCode } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import type { LogWriter } from '../logs/clean.ts'
import { liveSupervisor } from './state.ts'
import type { StackStatus } from './status.ts'

export const controlSocketPath = (home: Home) => path.join(home.run, 'control.sock')

// A change to the running stack (a rolling restart of many instances) may take minutes; no answer by then is an error.
export const COMMAND_TIMEOUT_MS = 15 * 60_000

// Short: a supervisor that does not answer by then is treated as gone and the caller works without it.
export const CONTROL_TIMEOUT_MS = 3000

export interface ControlAnswer {
  status: number
  body: unknown
}

// One request; undefined when nothing answers (no socket, refused, a timeout, a reply that is not JSON).
export function askSupervisor(
  home: Home,
  method: 'GET' | 'POST',
  route: string,
  timeoutMs = CONTROL_TIMEOUT_MS,
  body?: unknown,
): Promise<ControlAnswer | undefined> {
  return new Promise((resolve) => {
    const req = http.request(
      { socketPath: controlSocketPath(home), method, path: route, host: 'localhost', timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
          } catch {
            resolve(undefined)
          }
        })
        res.on('error', () => resolve(undefined))
      },
    )
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
    if (body !== undefined) req.setHeader('content-type', 'application/json')
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

// The live writer of the unified log as `logs clean` sees it: asked over the socket first, then by the files.
export function controlledWriter(home: Home): LogWriter | undefined {
  const writer = liveSupervisor(home)
  if (!writer) return undefined
  return {
    ...writer,
    async clean() {
      const answer = await askSupervisor(home, 'POST', '/v1/logs/clean')
      const files = (answer?.body as { files?: unknown } | undefined)?.files
      return answer?.status === 200 && typeof files === 'number' ? files : undefined
    },
  }
}

// What the supervisor says `status --json` is; undefined when it does not answer, so the caller reads the state file.
export async function statusFromSupervisor(home: Home): Promise<StackStatus | undefined> {
  const answer = await askSupervisor(home, 'GET', '/v1/status')
  const body = answer?.body as StackStatus | undefined
  return answer?.status === 200 && typeof body?.running === 'boolean' && Array.isArray(body.processes)
    ? body
    : undefined
}

// A command for the running stack (restart, scale, pause, apply): the supervisor's answer, or the error it gave.
// Without a supervisor to ask, NOT_FOUND: these commands change a live stack, and there is none.
export async function commandSupervisor(
  home: Home,
  route: string,
  body: Record<string, unknown> = {},
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  if (!liveSupervisor(home)?.alive())
    throw new BackendManagerError('NOT_FOUND', `no stack is running from ${home.root}; start one with "start"`)
  const answer = await askSupervisor(home, 'POST', route, timeoutMs, body)
  if (!answer)
    throw new BackendManagerError(
      'NOT_FOUND',
      `the supervisor did not answer on ${controlSocketPath(home)}; "status" shows whether the stack still runs`,
    )
  const reply = (answer.body ?? {}) as Record<string, unknown>
  if (answer.status === 200) return reply
  const error = (reply.error ?? {}) as { code?: unknown; message?: unknown }
  const message = typeof error.message === 'string' ? error.message : `the supervisor answered ${answer.status}`
  throw new BackendManagerError(isErrorCode(error.code) ? error.code : 'START_FAILED', message)
}
