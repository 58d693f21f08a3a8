// The web dashboard the supervisor serves on demand: 127.0.0.1 on a free port, every URL under a random token
// (anything else is 401). Live status, events and log lines go out as server-sent events; the buttons post to the
// same routes the control socket answers.
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { BackendManagerError } from '../core/errors.ts'
import { packageRoot, type Home } from '../core/home.ts'
import { FileFollower } from '../logs/follow.ts'
import { fileSize, nginxAccessLogPath, unifiedLogPath } from '../logs/paths.ts'
import { accessSample } from '../proxy/nginx/access-log.ts'
import { tailFile } from '../logs/tail.ts'
import type { ControlRoute } from './control-server.ts'
import { describeEvent, type SupervisorEvent } from './events.ts'
import type { LiveStack } from './live.ts'
import { collectStatus } from './status.ts'

const ASSETS: Record<string, string> = {
  '': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}
// The buttons' actions: each is posted to the control route of the same name.
const ACTIONS = new Set(['restart', 'pause', 'resume', 'scale'])
const TICK_MS = 1000
const LOG_AT_LOAD = 200
const MAX_BODY = 64 * 1024

// New whole lines of a followed file since the last read (across truncation and rotation, as `logs -f` reads).
function newLines(follower: FileFollower | undefined): string[] {
  const read = follower?.read()
  read?.commit()
  return read?.lines ?? []
}

// From the end of the file's last whole line now: a line being written as the page opens still comes out whole.
const fromEnd = (file: string) => new FileFollower(file, tailFile(file, 0).end || fileSize(file))

// Requests per second per upstream address, counted from nginx's JSON access log over the last tick.
function countUpstreams(lines: string[], seconds: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const line of lines) {
    const upstream = accessSample(line, 0)?.upstream
    if (upstream) counts[upstream] = (counts[upstream] ?? 0) + 1
  }
  for (const k of Object.keys(counts)) counts[k] = Math.round((counts[k] / seconds) * 10) / 10
  return counts
}

// An event as the page shows it: said as the log says it.
const eventData = (e: SupervisorEvent) => ({ time: e.time, kind: e.kind, text: describeEvent(e) })

// Same answer time whatever the guess: both sides hashed to equal length first.
export function sameToken(given: string, token: string): boolean {
  const hash = (s: string) => crypto.createHash('sha256').update(s).digest()
  return crypto.timingSafeEqual(hash(given), hash(token))
}

export class Dashboard {
  private server?: http.Server
  private url?: Promise<string>
  private readonly token = crypto.randomBytes(24).toString('base64url')
  private readonly clients = new Set<http.ServerResponse>()
  private timer?: NodeJS.Timeout
  private unsubscribe?: () => void
  private log?: FileFollower
  private access?: FileFollower
  private lastTick = Date.now()
  private collecting = false

  constructor(
    private readonly home: Home,
    private readonly live: LiveStack,
    private readonly routes: () => ControlRoute[],
    private readonly assetsDir = path.join(packageRoot, 'templates', 'dashboard'),
  ) {}

  // Its URL, serving from the first call on; later calls answer the same URL.
  open(): Promise<{ url: string }> {
    this.url ??= new Promise<string>((resolve, reject) => {
      const server = http.createServer((req, res) => this.handle(req, res))
      // The supervisor's life decides when it ends, never an open page.
      server.unref()
      server.once('error', (error) => {
        this.url = undefined
        reject(new BackendManagerError('PORT_BUSY', `the dashboard could not listen on 127.0.0.1: ${error.message}`))
      })
      server.listen(0, '127.0.0.1', () => {
        this.server = server
        const { port } = server.address() as { port: number }
        resolve(`http://127.0.0.1:${port}/${this.token}/`)
      })
    })
    return this.url.then((url) => ({ url }))
  }

  // Ends with the supervisor (or its hand-over): open pages lose their stream and say so.
  stop(): void {
    this.stopTicking()
    for (const res of this.clients) res.end()
    this.clients.clear()
    this.server?.close()
    this.server?.closeAllConnections()
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dashboard')
    const [, given = '', ...rest] = url.pathname.split('/')
    if (!sameToken(given, this.token)) {
      req.resume()
      res.writeHead(401, { 'content-type': 'text/plain' })
      return void res.end('401: this dashboard needs the URL with its token; "backend-manager dashboard" prints it\n')
    }
    const name = rest.join('/')
    if (req.method === 'GET' && name in ASSETS) return this.asset(name, res)
    if (req.method === 'GET' && name === 'events') return this.subscribe(res)
    const action = /^api\/(\w+)$/.exec(name)?.[1]
    if (req.method === 'POST' && action && ACTIONS.has(action)) return void this.act(action, req, res)
    req.resume()
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('404\n')
  }

  private asset(name: string, res: http.ServerResponse): void {
    const body = fs.readFileSync(path.join(this.assetsDir, name || 'index.html'))
    res.writeHead(200, {
      'content-type': ASSETS[name],
      'content-length': body.length,
      'cache-control': 'no-store',
      // Nothing from elsewhere: the page runs only its own script and talks only to this server.
      'content-security-policy': "default-src 'self'; img-src 'self' data:",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
    res.end(body)
  }

  private async act(action: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    try {
      const chunks: Buffer[] = []
      let length = 0
      for await (const chunk of req as AsyncIterable<Buffer>) {
        length += chunk.length
        if (length > MAX_BODY) throw new BackendManagerError('USAGE', `the request body is over ${MAX_BODY} bytes`)
        chunks.push(chunk)
      }
      const text = Buffer.concat(chunks).toString('utf8')
      const body: unknown = text ? JSON.parse(text) : {}
      if (!body || typeof body !== 'object' || Array.isArray(body)) {
        throw new BackendManagerError('USAGE', 'the request body must be a JSON object')
      }
      const route = this.routes().find((r) => r.method === 'POST' && r.path === `/v1/${action}`)
      send(200, await route!.answer!(body as Record<string, unknown>, new URLSearchParams()))
    } catch (error) {
      const code = error instanceof BackendManagerError ? error.code : 'FAILED'
      send(code === 'USAGE' || error instanceof SyntaxError ? 400 : 500, { error: { code, message: String(error) } })
    }
  }

  private subscribe(res: http.ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    // The open pages get what the follower has not sent yet first; the new page's tail ends where it now stands
    // (the unified log is written by this process, so nothing is appended in between).
    this.readLog()
    send('log', tailFile(unifiedLogPath(this.home), LOG_AT_LOAD).lines)
    for (const e of this.live.events.recent().slice(-50)) send('event', eventData(e))
    this.clients.add(res)
    res.on('close', () => {
      this.clients.delete(res)
      if (this.clients.size === 0) this.stopTicking()
    })
    void this.status(res)
    this.startTicking()
  }

  private broadcast(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const res of this.clients) res.write(text)
  }

  private async status(only?: http.ServerResponse): Promise<void> {
    // Its health probes may take longer than a tick: a tick that comes meanwhile is skipped, never piled up.
    if (!only && this.collecting) return
    if (!only) this.collecting = true
    try {
      const status = await collectStatus(this.home)
      if (only) only.write(`event: status\ndata: ${JSON.stringify(status)}\n\n`)
      else this.broadcast('status', status)
    } catch {
      // A status that cannot be read this second is tried again on the next.
    } finally {
      if (!only) this.collecting = false
    }
  }

  // Only while a page is open: a supervisor nobody watches does no work for the dashboard.
  private startTicking(): void {
    if (this.timer) return
    this.log = fromEnd(unifiedLogPath(this.home))
    this.access = fromEnd(nginxAccessLogPath(this.home))
    this.lastTick = Date.now()
    this.unsubscribe = this.live.events.subscribe((e) => this.broadcast('event', eventData(e)))
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref()
    // New log lines go out faster than the status: the log is what one watches while something happens.
    const logTimer = setInterval(() => this.readLog(), TICK_MS / 4)
    logTimer.unref()
    const stopLog = () => clearInterval(logTimer)
    const unsubscribe = this.unsubscribe
    this.unsubscribe = () => (unsubscribe(), stopLog())
  }

  private readLog(): void {
    const lines = newLines(this.log)
    if (lines.length) this.broadcast('log', lines)
  }

  private tick(): void {
    const now = Date.now()
    const seconds = Math.max(0.001, (now - this.lastTick) / 1000)
    this.lastTick = now
    this.broadcast('rates', countUpstreams(newLines(this.access), seconds))
    void this.status()
  }

  private stopTicking(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.log?.close()
    this.access?.close()
  }
}
