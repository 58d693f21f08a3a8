// The status table for the terminal: uptime, memory and health per process, coloured where the terminal allows.
import { table } from '../core/table.ts'
import type { StackStatus } from '../stack/status.ts'

export function formatDuration(ms: number | null): string {
  if (ms === null) return '-'
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-'
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)}K`
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)}M`
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)}G`
}

const STATE_COLOURS: Record<string, number> = {
  running: 32,
  starting: 36,
  restarting: 33,
  stopped: 90,
  crashed: 31,
  gone: 31,
  paused: 35,
  completed: 32,
  failed: 31,
}

export function formatStatus(status: StackStatus, colour: boolean): string {
  if (!status.running) return `not running (no stack in ${status.home})\n`
  const paint = (state: string) => (colour ? `\x1b[${STATE_COLOURS[state] ?? 0}m${state}\x1b[0m` : state)
  const rows = status.processes.map((p) => [
    p.id,
    p.pid > 0 ? String(p.pid) : '-',
    p.port === null ? '-' : String(p.port),
    p.state,
    p.restartReason ? `${p.health} (last restarted: ${p.restartReason})` : p.health,
    formatDuration(p.uptimeMs),
    String(p.restarts),
    p.cpuPercent === null ? '-' : `${p.cpuPercent.toFixed(1)}%`,
    formatBytes(p.rssBytes),
  ])
  // Colour is added after padding so escape codes do not skew the columns.
  const text = table(['NAME', 'PID', 'PORT', 'STATE', 'HEALTH', 'UPTIME', 'RESTARTS', 'CPU', 'MEM'], rows)
  const lines = text.split('\n')
  const coloured = colour
    ? lines.map((line, i) =>
        i === 0 || !rows[i - 1] ? line : line.replace(` ${rows[i - 1][3]} `, ` ${paint(rows[i - 1][3])} `),
      )
    : lines
  const notes = status.processes
    .filter((p) => p.lastExit && p.state !== 'running' && p.state !== 'paused' && p.state !== 'completed')
    .map((p) => `${p.id}: ${p.lastExit}`)
  for (const p of status.processes.filter((p) => p.watchTrigger))
    notes.push(`${p.id}: last restarted by a change to ${p.watchTrigger}`)
  const paused = status.processes.filter((p) => p.state === 'paused')
  for (const p of paused)
    notes.push(`${p.id}: paused (SIGSTOP), out of the proxy's rotation; "resume ${p.id}" continues it`)
  if (status.logBehind)
    notes.push(`unified log behind: ${status.logBehind.reason} (${status.logBehind.unreadBytes} bytes unread)`)
  const summary = `${status.healthy ? 'all healthy' : 'degraded'}${paused.length ? `, ${paused.length} paused` : ''}`
  return `config ${status.config}  home ${status.home}  ${summary}\n${coloured.join('\n')}${notes.length ? `${notes.join('\n')}\n` : ''}`
}
