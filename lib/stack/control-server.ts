// The supervisor's control socket: JSON over HTTP/1.1 on run/control.sock (0600), for the CLI and for scripts
// (`curl --unix-socket run/control.sock http://x/v1/status`). See the README, "The control API".
import fs from 'node:fs'
import http from 'node:http'
import type { Home } from '../core/home.ts'
import { controlSocketPath } from './control-client.ts'
import { collectStatus } from './status.ts'

export interface ControlHandlers {
  // Truncates every log file between two reads of the unified log; the number of files truncated.
  cleanLogs(): number
}

export interface ControlServer {
  close(): void
}

interface Route {
  method: 'GET' | 'POST'
  path: string
  answer(): Promise<unknown> | unknown
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n'
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function errorBody(code: string, message: string, routes: Route[]) {
  return { error: { code, message, routes: routes.map((r) => `${r.method} ${r.path}`) } }
}

// Whatever is at the socket's path is ours to replace: a socket a dead supervisor left, or a link or file planted
// there (unlinked, never followed). A folder is not removed: the socket is then not served.
function clearPath(file: string): void {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false })
  if (!stat) return
  if (stat.isDirectory()) throw new Error(`${file} is a folder, not a socket; remove it to get the control socket back`)
  fs.unlinkSync(file)
}

// Listens on run/control.sock until close() (or the process's exit); a failure to listen is logged, not fatal:
// the commands then work from the state file.
export function serveControl(home: Home, handlers: ControlHandlers, log: (line: string) => void): ControlServer {
  const file = controlSocketPath(home)
  const routes: Route[] = [
    { method: 'GET', path: '/v1/status', answer: () => collectStatus(home) },
    { method: 'POST', path: '/v1/logs/clean', answer: () => ({ files: handlers.cleanLogs() }) },
  ]
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]
    const route = routes.find((r) => r.path === url && r.method === req.method)
    if (!route) {
      const known = routes.some((r) => r.path === url)
      const what = known ? `${req.method} is not allowed on ${url}` : `no route ${req.method} ${url}`
      return send(res, known ? 405 : 404, errorBody(known ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND', what, routes))
    }
    req.resume()
    Promise.resolve()
      .then(() => route.answer())
      .then(
        (body) => send(res, 200, body),
        (error: unknown) => send(res, 500, errorBody('FAILED', (error as Error)?.message ?? String(error), routes)),
      )
  })
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
