// The `monitor` loop: polls the stack once a second, draws the view full-screen (or plain lines), acts on keys.
import http from 'node:http'
import type { Context } from './context.ts'
import { useColour } from './context.ts'
import { isKnownError } from '../core/errors.ts'
import { fileSize, nginxAccessLogPath, processLogPath } from '../logs/paths.ts'
import { FileFollower } from '../logs/follow.ts'
import { accessSample, type Sample } from '../proxy/nginx/access-log.ts'
import { tailLines } from '../logs/tail.ts'
import type { SupervisorEvent } from '../stack/events.ts'
import { collectStatus } from '../stack/status.ts'
import { commandSupervisor, controlSocketPath, statusFromSupervisor } from '../stack/control-client.ts'
import {
  keyAction,
  plainBlock,
  renderMonitor,
  selectedProcess,
  upstreamRates,
  type MonitorAction,
  type MonitorState,
} from './monitor-view.ts'

const REFRESH_MS = 1000
const RATE_WINDOW_MS = 10_000
const KEPT_EVENTS = 50

// Alternate screen and hidden cursor on entry; the reverse (and attributes reset) on the way out.
const ENTER = '\x1b[?1049h\x1b[?25l'
const LEAVE = '\x1b[0m\x1b[?25h\x1b[?1049l'

type Terminal = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number }
type Keyboard = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown }

// The kept supervisor events newer than `since` (GET /v1/events?follow=0); none when nothing answers.
function recentEvents(ctx: Context, since: number): Promise<SupervisorEvent[]> {
  return new Promise((resolve) => {
    const req = http.get(
      { socketPath: controlSocketPath(ctx.home), path: `/v1/events?follow=0&since=${since}`, timeout: 2000 },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          const events: SupervisorEvent[] = []
          for (const line of text.split('\n'))
            try {
              if (line) events.push(JSON.parse(line) as SupervisorEvent)
            } catch {
              // A torn line: the next poll has it whole.
            }
          resolve(res.statusCode === 200 ? events : [])
        })
        res.on('error', () => resolve([]))
      },
    )
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve([]))
  })
}

// Follows nginx's access log from where it ends now (across truncation and rotation, as `logs -f` does); each new
// line a sample stamped when it was read.
function accessLogReader(file: string) {
  const follower = new FileFollower(file, fileSize(file))
  let samples: Sample[] = []
  return (now: number) => {
    const read = follower.read()
    read.commit()
    for (const line of read.lines) {
      const sample = accessSample(line, now)
      if (sample) samples.push(sample)
    }
    samples = samples.filter((s) => s.at > now - RATE_WINDOW_MS)
    return samples
  }
}

export async function runMonitor(ctx: Context, stdin: Keyboard, now = () => Date.now()): Promise<number> {
  const out = ctx.stdout as Terminal
  const screen = useColour(out, ctx.env) && Boolean(stdin.isTTY)
  const started = now()
  const readAccess = accessLogReader(nginxAccessLogPath(ctx.home))
  const state: MonitorState = {
    status: undefined,
    events: [],
    selected: 0,
    logLines: [],
    mode: 'table',
    upstreams: [],
    message: '',
  }
  let lastEvent = 0

  const refresh = async () => {
    state.status = (await statusFromSupervisor(ctx.home)) ?? (await collectStatus(ctx.home))
    const fresh = await recentEvents(ctx, lastEvent)
    if (fresh.length) lastEvent = fresh.at(-1)!.time
    state.events = [...state.events, ...fresh].slice(-KEPT_EVENTS)
    const byPort = new Map(state.status.processes.map((p) => [`127.0.0.1:${p.port}`, p.id]))
    state.upstreams = upstreamRates(readAccess(now()), now(), RATE_WINDOW_MS, started).map((u) => ({
      ...u,
      id: byPort.get(u.upstream),
    }))
    const chosen = selectedProcess(state)
    const lines = chosen ? tailLines(processLogPath(ctx.home, chosen.id), state.mode === 'log' ? 200 : 1) : []
    state.lastLine = lines.at(-1)
    state.logLines = lines
  }
  const draw = () => {
    if (!screen) return void out.write(plainBlock(state, now()))
    const lines = renderMonitor(state, out.columns ?? 80, out.rows ?? 24, true)
    out.write(`\x1b[H${lines.join('\x1b[K\r\n')}\x1b[K\x1b[J`)
  }

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined
    let done = false
    let busy = false
    const finish = (code: number, error?: unknown) => {
      if (done) return
      done = true
      clearTimeout(timer)
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal).off('SIGWINCH', draw)
      out.off('error', onOutputError)
      process.off('exit', onExit)
      if (screen) {
        stdin.off('data', onKey)
        stdin.setRawMode?.(false)
        stdin.pause()
        out.write(LEAVE)
      }
      if (error) ctx.stderr.write(`monitor stopped: ${error instanceof Error ? error.message : String(error)}\n`)
      resolve(code)
    }
    const onSignal = () => finish(0)
    // The reader went away (`monitor | head`): nothing left to show to, so it ends as if asked to.
    const onOutputError = () => finish(0)
    const tick = async () => {
      if (done) return
      try {
        await refresh()
        if (!done) draw()
      } catch (error) {
        return finish(1, error)
      }
      if (!done) timer = setTimeout(tick, REFRESH_MS)
    }
    const act = async (action: MonitorAction) => {
      if (action === 'quit') return finish(0)
      const count = state.status?.processes.length ?? 0
      if (action === 'up' || action === 'down') {
        const next = Math.min(Math.max(0, state.selected), count - 1) + (action === 'up' ? -1 : 1)
        state.selected = Math.min(Math.max(0, next), Math.max(0, count - 1))
      } else if (action === 'log' || action === 'back') state.mode = action === 'log' ? 'log' : 'table'
      else if (!busy) {
        busy = true
        // A rolling restart or a scale takes seconds: say it is under way until the supervisor answers.
        state.message = `${action} ${selectedProcess(state)?.id ?? ''}: asking the supervisor...`
        draw()
        try {
          state.message = await command(ctx, state, action)
        } catch (error) {
          if (!isKnownError(error)) throw error
          state.message = error.message
        } finally {
          busy = false
        }
      }
      await refresh()
      if (!done) draw()
    }
    const onKey = (data: Buffer | string) => {
      const key = String(data)
      // A chunk is one key (an arrow is three bytes), or several typed fast: then each character is one.
      const keys = keyAction(key, state.mode) ? [key] : [...key]
      for (const k of keys) {
        const action = keyAction(k, state.mode)
        if (action) act(action).catch((error) => finish(1, error))
      }
    }
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
    out.on('error', onOutputError)
    // Last resort for an exit that skipped finish (an uncaught error elsewhere): the terminal is still restored.
    const onExit = () => void (screen && !done && out.write(LEAVE))
    process.once('exit', onExit)
    if (screen) {
      process.on('SIGWINCH', draw)
      out.write(ENTER)
      stdin.setRawMode?.(true)
      stdin.resume()
      stdin.on('data', onKey)
    }
    void tick()
  })
}

// A key that changes the stack: sent to the supervisor's routes, as the matching command would.
async function command(ctx: Context, state: MonitorState, action: MonitorAction): Promise<string> {
  const p = selectedProcess(state)
  if (!p || p.kind !== 'server') return `${p?.id ?? 'nothing'} is not a server instance: nothing to ${action}`
  if (action === 'restart') {
    await commandSupervisor(ctx.home, '/v1/restart', { targets: [p.id] })
    return `restarted ${p.id}`
  }
  if (action === 'pause') {
    const resume = p.state === 'paused'
    await commandSupervisor(ctx.home, resume ? '/v1/resume' : '/v1/pause', { targets: [p.id] })
    return `${resume ? 'resumed' : 'paused'} ${p.id}`
  }
  const count = state.status!.processes.filter((q) => q.kind === 'server' && q.name === p.name).length
  const to = Math.max(0, count + (action === 'scale-up' ? 1 : -1))
  await commandSupervisor(ctx.home, '/v1/scale', { servers: { [p.name]: to } })
  return `scaled ${p.name} from ${count} to ${to}`
}
