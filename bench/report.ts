// Renders the results as Markdown: one table per kind of measurement, then the targets.
import { stats, type Stats } from './common.ts'
import type { BurstResult } from './logs-scenario.ts'
import type { LatencyResult, LoadResult } from './load.ts'

export interface Results {
  machine: string[]
  // scenario -> tool -> samples (ms)
  timings: Map<string, Map<string, number[]>>
  // The same, as backend-manager's own timer reports it (no node start-up, module loading or config parsing).
  inside: Map<string, Map<string, number[]>>
  proxy: { label: string; target: 'direct' | 'nginx'; connections: number; runs: LoadResult[] }[]
  // Paced requests on one keep-alive connection (requests per second), per target.
  latency: { rate: number; direct: LatencyResult[]; nginx: LatencyResult[] }
  bursts: BurstResult[]
  memory: { tool: string; what: string; rssBytes?: number }[]
  tools: string[]
  reference: string
  floor: string
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1))
const mb = (b?: number) => (b === undefined ? 'n/a' : `${(b / 1024 / 1024).toFixed(1)} MB`)
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`
// A difference with its sign: noise can make the proxied side the faster one.
const signed = (v: number, digits: number) => `${v < 0 ? '-' : '+'}${Math.abs(v).toFixed(digits)}`
const triple = (s: Stats) => `${ms(s.min)} / **${ms(s.median)}** / ${ms(s.max)}`

export function medianOf(r: Results, scenario: string, tool: string): number | undefined {
  return stats(r.timings.get(scenario)?.get(tool) ?? [])?.median
}

function lifecycleTable(r: Results): string[] {
  const out = [
    `| scenario | tool | min / **median** / max (ms) | ${r.reference} ÷ tool |`,
    '|---|---|---|---|',
  ]
  for (const [scenario, byTool] of r.timings) {
    const ref = stats(byTool.get(r.reference) ?? [])
    for (const tool of r.tools) {
      const s = stats(byTool.get(tool) ?? [])
      if (!s) continue
      out.push(`| ${scenario} | ${tool} | ${triple(s)} | ${ref && tool !== r.reference ? ratio(ref.median, s.median) : ''} |`)
    }
  }
  return out
}

// Where backend-manager's wall time goes: its own timer, the rest (node, modules, config), and the floor.
function breakdownTable(r: Results): string[] {
  const out = [
    '| command | wall | inside the command (its own timer) | outside it: node start-up, module loading, config parsing, exit | the servers alone (floor) | wall beyond the floor |',
    '|---|---|---|---|---|---|',
  ]
  for (const [scenario, byTool] of r.inside) {
    for (const [tool, samples] of byTool) {
      const wall = medianOf(r, scenario, tool)
      const own = stats(samples)?.median
      const floor = medianOf(r, scenario, r.floor)
      if (wall === undefined || own === undefined) continue
      out.push(`| ${tool} ${scenario} | ${ms(wall)} ms | ${ms(own)} ms | ${ms(wall - own)} ms | ${floor === undefined ? 'n/a' : `${ms(floor)} ms`} | ${floor === undefined ? 'n/a' : `+${ms(wall - floor)} ms`} |`)
    }
  }
  return out
}

function latencyTable(r: Results): string[] {
  const out = ['| target | p50 | p99 | requests | errors | added by nginx (p50 / p99) |', '|---|---|---|---|---|---|']
  const med = (runs: LatencyResult[], f: (x: LatencyResult) => number) => stats(runs.map(f))?.median ?? NaN
  const d = { p50: med(r.latency.direct, (x) => x.p50Ms), p99: med(r.latency.direct, (x) => x.p99Ms) }
  for (const target of ['direct', 'nginx'] as const) {
    const runs = r.latency[target]
    if (runs.length === 0) continue
    const p50 = med(runs, (x) => x.p50Ms)
    const p99 = med(runs, (x) => x.p99Ms)
    const added = target === 'nginx' ? `${signed(p50 - d.p50, 3)} ms / ${signed(p99 - d.p99, 3)} ms` : ''
    const label = target === 'direct' ? 'direct to one instance' : 'through nginx (2 instances)'
    out.push(`| ${label} | ${p50.toFixed(3)} ms | ${p99.toFixed(3)} ms | ${runs.reduce((s, x) => s + x.samples, 0)} | ${runs.reduce((s, x) => s + x.errors, 0)} | ${added} |`)
  }
  return out
}

function proxyTable(r: Results): string[] {
  const out = [
    '| load | target | req/s (median of runs) | p50 | p99 | errors | nginx ÷ direct | CPU µs per request: servers / nginx / rest (load tool, machine) |',
    '|---|---|---|---|---|---|---|---|',
  ]
  const summary = (runs: LoadResult[]) => ({
    rps: stats(runs.map((x) => x.requestsPerSecond))!.median,
    p50: stats(runs.map((x) => x.p50Ms))!.median,
    p99: stats(runs.map((x) => x.p99Ms))!.median,
    errors: runs.reduce((s, x) => s + x.errors, 0),
  })
  for (const row of r.proxy) {
    const s = summary(row.runs)
    const direct = r.proxy.find((p) => p.target === 'direct' && p.connections === row.connections)
    const d = direct ? summary(direct.runs) : undefined
    const vs = row.target === 'nginx' && d ? `${((s.rps / d.rps) * 100).toFixed(0)}% req/s, p99 ${signed(s.p99 - d.p99, 2)} ms` : ''
    const cpu = row.runs.at(-1)?.cpuPer1000
    const cpuText = cpu ? `${cpu.servers.toFixed(0)} / ${cpu.nginx.toFixed(0)} / ${cpu.rest.toFixed(0)}` : ''
    out.push(`| ${row.connections} connection${row.connections === 1 ? '' : 's'}, ${row.runs.length} x | ${row.label} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} ms | ${s.p99.toFixed(2)} ms | ${s.errors} | ${vs} | ${cpuText} |`)
  }
  return out
}

function burstTable(r: Results): string[] {
  const out = [
    '| tool | where the lines go | rounds | lines lost / torn / duplicated (all rounds) | time until the last line landed: min / **median** / max | lines/s (median) | daemon peak RSS (max) |',
    '|---|---|---|---|---|---|---|',
  ]
  for (const tool of [...new Set(r.bursts.map((b) => b.tool))]) {
    const runs = r.bursts.filter((b) => b.tool === tool)
    const sum = (f: (b: BurstResult) => number) => runs.reduce((s, b) => s + f(b), 0)
    const t = stats(runs.map((b) => b.ms))!
    const peaks = runs.map((b) => b.peakRssBytes).filter((x): x is number => x !== undefined)
    const lps = stats(runs.map((b) => b.linesPerSecond))!.median
    out.push(`| ${tool} | ${runs[0].where} | ${runs.length} x ${runs[0].expected} lines | ${sum((b) => b.lost)} / ${sum((b) => b.torn)} / ${sum((b) => b.duplicated)} | ${triple(t)} ms | ${Math.round(lps)} | ${mb(peaks.length ? Math.max(...peaks) : undefined)} (${runs[0].peakOf}) |`)
  }
  return out
}

function memoryTable(r: Results): string[] {
  const out = ['| tool | process | RSS |', '|---|---|---|']
  for (const m of r.memory) out.push(`| ${m.tool} | ${m.what} | ${mb(m.rssBytes)} |`)
  return out
}

interface Target {
  what: string
  measured: string
  met: boolean | undefined
}

export function targets(r: Results): Target[] {
  const bm = r.reference
  const m = (s: string, t: string) => medianOf(r, s, t)
  const list: Target[] = []
  const add = (what: string, measured: string | undefined, met: boolean | undefined) => list.push({ what, measured: measured ?? 'n/a', met })
  const stopBm = m('stop', bm)
  const stopPm2 = m('stop', 'PM2')
  const stopFloor = m('stop', r.floor)
  const startBm = m('start', bm)
  const startPm2 = m('start', 'PM2')
  const startFloor = m('start', r.floor)
  const restartBm = m('restart', bm)
  const statusBm = m('status', bm)
  const statusPm2 = m('status', 'PM2')
  const have = (...v: (number | undefined)[]) => v.every((x) => x !== undefined)
  add('stop: at most 0.4x PM2', have(stopBm, stopPm2) ? ratio(stopBm!, stopPm2!) : undefined, have(stopBm, stopPm2) ? stopBm! <= 0.4 * stopPm2! : undefined)
  add('stop: under 150 ms beyond the servers\' own shutdown (floor)', have(stopBm, stopFloor) ? `+${ms(stopBm! - stopFloor!)} ms` : undefined, have(stopBm, stopFloor) ? stopBm! - stopFloor! < 150 : undefined)
  add('start: no slower than PM2', have(startBm, startPm2) ? ratio(startBm!, startPm2!) : undefined, have(startBm, startPm2) ? startBm! <= startPm2! : undefined)
  add('start: under 150 ms beyond the servers\' own readiness (floor)', have(startBm, startFloor) ? `+${ms(startBm! - startFloor!)} ms` : undefined, have(startBm, startFloor) ? startBm! - startFloor! < 150 : undefined)
  const restartBound = have(stopPm2, startPm2) ? 0.4 * stopPm2! + startPm2! : undefined
  add('restart: under the sum of the two bounds above (0.4x PM2 stop + PM2 start)', have(restartBm, restartBound) ? `${ms(restartBm!)} ms vs ${ms(restartBound!)} ms` : undefined, have(restartBm, restartBound) ? restartBm! < restartBound! : undefined)
  add('status: no slower than pm2 jlist', have(statusBm, statusPm2) ? ratio(statusBm!, statusPm2!) : undefined, have(statusBm, statusPm2) ? statusBm! <= statusPm2! : undefined)
  const med = (target: 'direct' | 'nginx', c: number, f: (x: LoadResult) => number) => {
    const row = r.proxy.find((p) => p.target === target && p.connections === c)
    return row ? stats(row.runs.map(f))!.median : undefined
  }
  const heavy = Math.max(0, ...r.proxy.map((p) => p.connections))
  const dRps = med('direct', heavy, (x) => x.requestsPerSecond)
  const nRps = med('nginx', heavy, (x) => x.requestsPerSecond)
  add(`nginx in front: at least 85% of direct req/s (${heavy} connections)`, have(dRps, nRps) ? `${((nRps! / dRps!) * 100).toFixed(0)}%` : undefined, have(dRps, nRps) ? nRps! >= 0.85 * dRps! : undefined)
  const d99 = stats(r.latency.direct.map((x) => x.p99Ms))?.median
  const n99 = stats(r.latency.nginx.map((x) => x.p99Ms))?.median
  add(`nginx in front: p99 added latency under 1 ms (${r.latency.rate} req/s on one connection)`, have(d99, n99) ? `${signed(n99! - d99!, 2)} ms` : undefined, have(d99, n99) ? n99! - d99! < 1 : undefined)
  const bursts = r.bursts.filter((b) => b.tool === bm)
  const lost = bursts.reduce((s, b) => s + b.lost, 0)
  const torn = bursts.reduce((s, b) => s + b.torn, 0)
  const duplicated = bursts.reduce((s, b) => s + b.duplicated, 0)
  const peak = bursts.some((b) => b.peakRssBytes !== undefined) ? Math.max(...bursts.map((b) => b.peakRssBytes ?? 0)) : undefined
  add('logs: 0 lines lost or torn', bursts.length ? `${lost} lost, ${torn} torn, ${duplicated} duplicated in ${bursts.length} rounds` : undefined, bursts.length ? lost === 0 && torn === 0 && duplicated === 0 : undefined)
  add('logs: supervisor peak RSS under 80 MB', peak !== undefined ? mb(peak) : undefined, peak !== undefined ? peak < 80 * 1024 * 1024 : undefined)
  const idleBm = r.memory.find((x) => x.tool === bm)?.rssBytes
  const idlePm2 = r.memory.find((x) => x.tool === 'PM2')?.rssBytes
  add("memory: idle supervisor RSS below PM2's daemon", have(idleBm, idlePm2) ? `${mb(idleBm)} vs ${mb(idlePm2)}` : undefined, have(idleBm, idlePm2) ? idleBm! < idlePm2! : undefined)
  return list
}

export function renderMarkdown(r: Results): string {
  const t = targets(r)
  return [
    '# Benchmark results',
    '',
    'Written by `make bench` (bench/bench.ts); the README quotes the headline ratios from here.',
    '',
    ...r.machine.map((l) => `- ${l}`),
    '',
    '## Lifecycle: start, stop, restart, status (1-4)',
    '',
    'Wall time from issuing the command until the same outside check passes for every tool: start and',
    'restart until every server answers `GET /health` (restart: and every old pid is gone); stop until',
    'no LISTEN socket is left on the ports (/proc/net/tcp and tcp6) and no recorded pid is alive;',
    'status is the command itself (`status --json`, `pm2 jlist`, `supervisorctl status`).',
    '',
    ...lifecycleTable(r),
    '',
    "Where backend-manager's time goes (medians): the command's own timer against its wall time and the",
    'floor (the bench spawning and signalling the same processes itself, no manager at all). "Outside" also',
    "holds the bench's own spawn of the command and its final check, the same for every tool.",
    '',
    ...breakdownTable(r),
    '',
    '## Proxy (5): direct to one instance vs through the generated nginx (2-instance upstream)',
    '',
    'Flat out with wrk (keep-alive, 127.0.0.1; the load tool shares the 2 cores with the servers and nginx):',
    '',
    ...proxyTable(r),
    '',
    `Latency at a steady ${r.latency.rate} requests/s on one keep-alive connection (median of the runs):`,
    '',
    ...latencyTable(r),
    '',
    '## Logs (6): 8 processes x 20,000 lines at once',
    '',
    ...burstTable(r),
    '',
    '## Memory (7): the idle daemon, 8 servers running (median of 5 samples after 2 s idle)',
    '',
    ...memoryTable(r),
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...t.map((x) => `| ${x.what} | ${x.measured} | ${x.met === undefined ? 'n/a' : x.met ? 'yes' : '**no**'} |`),
    '',
  ].join('\n')
}
