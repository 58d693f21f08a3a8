// The supervisor's control socket: JSON over HTTP/1.1 on run/control.sock (0600), for the CLI and for scripts
// (`curl --unix-socket run/control.sock http://x/v1/status`). The routes are data (control-routes.ts); see the
// README, "The control API".
import fs from 'node:fs'
import http from 'node:http'
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import { controlSocketPath } from './control-client.ts'

export interface ControlRoute {
  method: 'GET' | 'POST'
  path: string
  // One JSON answer to the request's JSON body ({} when it has none) and its query.
  answer?(body: Record<string, unknown>, query: URLSearchParams): Promise<unknown> | unknown
  // A long answer written as it happens (the event stream); ends when the client goes.
  stream?(res: http.ServerResponse, query: URLSearchParams): void
}

export interface ControlServer {
  close(): void
}

const MAX_BODY = 1 << 20
// How an error the user can fix answers; anything else is a 500.
const STATUS_OF: Partial<Record<string, number>> = { USAGE: 400, CONFIG: 400, NOT_FOUND: 404, LOCKED: 409 }

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n'
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function errorBody(code: string, message: string, routes: ControlRoute[]) {
  return { error: { code, message, routes: routes.map((r) => `${r.method} ${r.path}`) } }
}

function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY) chunks.push(chunk)
    })
    req.on('error', reject)
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (size > MAX_BODY) return reject(new BackendManagerError('USAGE', `the request body is over ${MAX_BODY} bytes`))
      if (text === '') return resolve({})
      try {
        const body: unknown = JSON.parse(text)
        if (body && typeof body === 'object' && !Array.isArray(body)) return resolve(body as Record<string, unknown>)
      } catch {
        // Said below, with what was expected.
      }
      reject(new BackendManagerError('USAGE', `the request body must be a JSON object, got ${text.slice(0, 80)}`))
    })
  })
}

// Whatever is at the socket's path is ours to replace: a socket a dead supervisor left, or a link or file planted
// there (unlinked, never followed). A folder is not removed: the socket is then not served.
function clearPath(file: string): void {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false })
  if (!stat) return
  if (stat.isDirectory()) throw new Error(`${file} is a folder, not a socket; remove it to get the control socket back`)
  fs.unlinkSync(file)
}

function handle(routes: ControlRoute[], req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://control')
  const route = routes.find((r) => r.path === url.pathname && r.method === req.method)
  if (!route) {
    req.resume()
    const known = routes.some((r) => r.path === url.pathname)
    const what = known ? `${req.method} is not allowed on ${url.pathname}` : `no route ${req.method} ${url.pathname}`
    return send(res, known ? 405 : 404, errorBody(known ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND', what, routes))
  }
  if (route.stream) {
    req.resume()
    return route.stream(res, url.searchParams)
  }
  readBody(req)
    .then((body) => route.answer!(body, url.searchParams))
    .then(
      (body) => send(res, 200, body),
      (error: unknown) => {
        const code = error instanceof BackendManagerError ? error.code : 'FAILED'
        const message = (error as Error)?.message ?? String(error)
        send(res, STATUS_OF[code] ?? 500, errorBody(code, message, routes))
      },
    )
}

// Listens on run/control.sock until close() (or the process's exit); a failure to listen is logged, not fatal:
// the commands then work from the state file.
export function serveControl(home: Home, routes: ControlRoute[], log: (line: string) => void): ControlServer {
  const file = controlSocketPath(home)
  const server = http.createServer((req, res) => handle(routes, req, res))
  // It never keeps the supervisor alive on its own: the supervisor's life decides when it ends.
  server.unref()
  let ino: number | undefined
  const removeOurs = () => {
    // Only the socket this process made: a later supervisor may already have put its own in its place.
    const stat = fs.lstatSync(file, { throwIfNoEntry: false })
    if (stat?.isSocket() && stat.ino === ino) fs.rmSync(file, { force: true })
  }
  server.on('error', (error) => log(`control socket ${file} not served: ${error.message}`))
  try {
    clearPath(file)
    // Created 0600 by the umask (no chmod, which would follow a link); the bind itself happens within listen().
    const umask = process.umask(0o177)
    try {
      server.listen(file)
    } finally {
      process.umask(umask)
    }
    const made = fs.lstatSync(file, { throwIfNoEntry: false })
    if (made?.isSocket()) ino = made.ino
  } catch (error) {
    log(`control socket ${file} not served: ${(error as Error).message}`)
  }
  process.once('exit', removeOurs)
  return {
    close() {
      removeOurs()
      ino = undefined
      server.close()
      server.closeAllConnections()
      process.off('exit', removeOurs)
    },
  }
}
