// What `monitor` shows, as pure functions: a state in, the screen's lines (or a plain block) out; keys to actions.
import type { SupervisorEvent } from '../stack/events.ts'
import { describeEvent } from '../stack/events.ts'
import type { ProcessStatus, StackStatus } from '../stack/status.ts'
import { formatBytes, formatDuration } from './status-format.ts'
import type { Sample } from '../proxy/nginx/access-log.ts'

// Requests per second and latency percentiles of one upstream (a backend address), over the recent window.
export interface UpstreamRate {
  upstream: string
  id?: string
  rps: number
  p50Ms: number | null
  p99Ms: number | null
}

export interface MonitorState {
  status: StackStatus | undefined
  events: SupervisorEvent[]
  selected: number
  // The selected process's last log line; in log mode, its last lines.
  lastLine?: string
  logLines: string[]
  mode: 'table' | 'log'
  upstreams: UpstreamRate[]
  // What the last key did (or why it could not), shown until the next one.
  message: string
}

export type MonitorAction = 'up' | 'down' | 'restart' | 'pause' | 'scale-up' | 'scale-down' | 'log' | 'back' | 'quit'

const KEYS: Record<string, MonitorAction> = {
  '\x1b[A': 'up',
  '\x1bOA': 'up',
  k: 'up',
  '\x1b[B': 'down',
  '\x1bOB': 'down',
  j: 'down',
  r: 'restart',
  p: 'pause',
  '+': 'scale-up',
  '=': 'scale-up',
  '-': 'scale-down',
  l: 'log',
  q: 'quit',
  '\x03': 'quit',
  '\x1b': 'back',
}

// What a key press means where the view is: in log mode q and Esc go back to the table.
export function keyAction(key: string, mode: MonitorState['mode']): MonitorAction | undefined {
  const action = KEYS[key]
  if (mode === 'log' && (action === 'quit' || action === 'back') && key !== '\x03') return 'back'
  return action === 'back' && mode === 'table' ? undefined : action
}

export const HELP = 'arrows/j/k select  r restart  p pause/resume  +/- scale  l log  q quit'

const STATE_COLOURS: Record<string, number> = {
  running: 32,
  starting: 36,
  restarting: 33,
  crashed: 31,
  gone: 31,
  failed: 31,
  paused: 35,
  stopped: 90,
}

const HEAD = ['NAME', 'PID', 'STATE', 'HEALTH', 'CPU', 'MEM', 'RESTARTS', 'UPTIME']
const WIDTHS = [14, 8, 11, 18, 7, 8, 9, 8]

const fit = (text: string, width: number) => (text.length > width ? text.slice(0, Math.max(0, width)) : text)
const cell = (text: string, width: number) => fit(text, width - 1).padEnd(width)

function row(p: ProcessStatus): string[] {
  return [
    p.id,
    p.pid > 0 ? String(p.pid) : '-',
    p.state,
    p.health,
    p.cpuPercent === null ? '-' : `${p.cpuPercent.toFixed(1)}%`,
    formatBytes(p.rssBytes),
    String(p.restarts),
    formatDuration(p.uptimeMs),
  ]
}

const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 8)
const ms = (v: number | null) => (v === null ? '-' : `${v < 10 ? v.toFixed(1) : Math.round(v)}ms`)

// The selected process, kept in range as rows come and go.
export function selectedProcess(state: MonitorState): ProcessStatus | undefined {
  const list = state.status?.processes ?? []
  return list[Math.min(Math.max(state.selected, 0), list.length - 1)]
}

// The screen: exactly `height` lines, none wider than `width`; colour only through `paint`.
export function renderMonitor(state: MonitorState, width: number, height: number, colour: boolean): string[] {
  const paint = (code: number, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text)
  const status = state.status
  const chosen = selectedProcess(state)
  const title = !status?.running
    ? `backend-manager monitor: no stack running in ${status?.home ?? 'this home'}`
    : `backend-manager monitor  ${status.healthy ? 'all healthy' : 'degraded'}  config ${status.config}`
  const top = [paint(1, fit(title, width))]
  const bottom = [paint(7, fit(state.message ? `${state.message}  |  ${HELP}` : HELP, width).padEnd(width))]
  let body: string[]
  if (state.mode === 'log') {
    const header = paint(1, fit(`log of ${chosen?.id ?? '-'} (q/Esc back)`, width))
    const room = Math.max(0, height - top.length - bottom.length - 1)
    body = [header, ...state.logLines.slice(-room).map((l) => fit(l, width))]
  } else body = tableBody(state, chosen, width, height - top.length - bottom.length, paint)
  const room = Math.max(0, height - top.length - bottom.length)
  const middle = body.slice(0, room)
  while (middle.length < room) middle.push('')
  return [...top, ...middle, ...bottom].slice(0, height)
}

function tableBody(
  state: MonitorState,
  chosen: ProcessStatus | undefined,
  width: number,
  room: number,
  paint: (code: number, text: string) => string,
): string[] {
  const processes = state.status?.processes ?? []
  const line = (cells: string[]) => fit(cells.map((c, i) => cell(c, WIDTHS[i])).join(''), width)
  const rows = processes.map((p) => {
    const text = line(row(p))
    if (p === chosen) return paint(7, text.padEnd(width))
    const state = cell(p.state, WIDTHS[2])
    const at = WIDTHS[0] + WIDTHS[1]
    if (text.length < at + state.length) return text
    // Colour is added after padding so escape codes do not skew the columns.
    return text.slice(0, at) + paint(STATE_COLOURS[p.state] ?? 0, state) + text.slice(at + state.length)
  })
  const lines = [paint(1, line(HEAD)), ...rows, '']
  if (state.upstreams.length) {
    lines.push(paint(1, fit('UPSTREAM              REQ/S    P50      P99', width)))
    for (const u of state.upstreams)
      lines.push(
        fit(`${cell(u.id ?? u.upstream, 22)}${cell(u.rps.toFixed(1), 9)}${cell(ms(u.p50Ms), 9)}${ms(u.p99Ms)}`, width),
      )
    lines.push('')
  }
  lines.push(fit(`last line of ${chosen?.id ?? '-'}: ${state.lastLine ?? ''}`, width), '')
  const left = Math.max(0, room - lines.length - 1)
  const events = state.events.slice(-left)
  if (left > 0) lines.push(paint(1, 'RECENT EVENTS'))
  for (const e of events) lines.push(fit(`${clock(e.time)} ${describeEvent(e)}`, width))
  return lines
}

// On a pipe, with NO_COLOR or TERM=dumb: one block of plain lines per refresh, no escape codes.
export function plainBlock(state: MonitorState, now: number): string {
  const status = state.status
  if (!status?.running) return `${clock(now)} no stack running in ${status?.home ?? 'this home'}\n\n`
  const lines = [`${clock(now)} ${status.healthy ? 'all healthy' : 'degraded'}`]
  for (const p of status.processes) lines.push(row(p).join(' '))
  for (const u of state.upstreams)
    lines.push(`upstream ${u.id ?? u.upstream} ${u.rps.toFixed(1)} req/s p50 ${ms(u.p50Ms)} p99 ${ms(u.p99Ms)}`)
  for (const e of state.events.slice(-3)) lines.push(`event ${clock(e.time)} ${describeEvent(e)}`)
  return lines.join('\n') + '\n\n'
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

// Rates over the samples of the last `windowMs` (or since `since`, when the monitor started later than that).
export function upstreamRates(samples: Sample[], now: number, windowMs: number, since: number): UpstreamRate[] {
  const from = Math.max(now - windowMs, since)
  const seconds = Math.max(1, (now - from) / 1000)
  const by = new Map<string, number[]>()
  for (const s of samples) if (s.at > from) by.set(s.upstream, [...(by.get(s.upstream) ?? []), s.ms])
  return [...by]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([upstream, times]) => {
      const sorted = times.sort((a, b) => a - b)
      return { upstream, rps: times.length / seconds, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) }
    })
}
