// Renders the results as Markdown: one table per kind of measurement, then the targets.
import { stats, type Stats } from './common.ts'
import { renderLiveSection } from './live-report.ts'
import type { LiveResults } from './live-scenario.ts'
import type { BurstResult } from './logs-scenario.ts'
import type { ProxyBackendResults, ProxyResults, ProxySubject } from './proxy-scenario.ts'

export interface Results {
  machine: string[]
  // scenario -> tool -> samples (ms)
  timings: Map<string, Map<string, number[]>>
  // The same, as backend-manager's own timer reports it (no node start-up, module loading or config parsing).
  inside: Map<string, Map<string, number[]>>
  proxy?: ProxyResults
  // The running stack: idle manager cost, restart and scale under load (its own section and targets).
  live?: LiveResults
  // Other jobs ran on the machine during the bench.
  sharedMachine: boolean
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
  const out = [`| scenario | tool | min / **median** / max (ms) | ${r.reference} ÷ tool |`, '|---|---|---|---|']
  for (const [scenario, byTool] of r.timings) {
    const ref = stats(byTool.get(r.reference) ?? [])
    for (const tool of r.tools) {
      const s = stats(byTool.get(tool) ?? [])
      if (!s) continue
      out.push(
        `| ${scenario} | ${tool} | ${triple(s)} | ${ref && tool !== r.reference ? ratio(ref.median, s.median) : ''} |`,
      )
    }
  }
  return out
}

// Where backend-manager's wall time goes: its own timer, the rest (node, modules, config), and the floor.
function breakdownTable(r: Results): string[] {
  const out = [
    '| command | wall | inside the command (its own timer) |' +
      ' outside it: node start-up, module loading, config parsing, exit |' +
      ' the servers alone (floor) | wall beyond the floor |',
    '|---|---|---|---|---|---|',
  ]
  for (const [scenario, byTool] of r.inside) {
    for (const [tool, samples] of byTool) {
      const wall = medianOf(r, scenario, tool)
      const own = stats(samples)?.median
      const floor = medianOf(r, scenario, r.floor)
      if (wall === undefined || own === undefined) continue
      out.push(
        `| ${tool} ${scenario} | ${ms(wall)} ms | ${ms(own)} ms` +
          ` | ${ms(wall - own)} ms | ${floor === undefined ? 'n/a' : `${ms(floor)} ms`}` +
          ` | ${floor === undefined ? 'n/a' : `+${ms(wall - floor)} ms`} |`,
      )
    }
  }
  return out
}

function burstTable(r: Results): string[] {
  const out = [
    '| tool | where the lines go | rounds |' +
      ' lines lost / torn / duplicated (all rounds) |' +
      ' time until the last line landed: min / **median** / max |' +
      ' lines/s (median) | daemon peak RSS (max) |',
    '|---|---|---|---|---|---|---|',
  ]
  for (const tool of [...new Set(r.bursts.map((b) => b.tool))]) {
    const runs = r.bursts.filter((b) => b.tool === tool)
    const sum = (f: (b: BurstResult) => number) => runs.reduce((s, b) => s + f(b), 0)
    const t = stats(runs.map((b) => b.ms))!
    const peaks = runs.map((b) => b.peakRssBytes).filter((x): x is number => x !== undefined)
    const lps = stats(runs.map((b) => b.linesPerSecond))!.median
    out.push(
      `| ${tool} | ${runs[0].where} | ${runs.length} x ${runs[0].expected} lines` +
        ` | ${sum((b) => b.lost)} / ${sum((b) => b.torn)} / ${sum((b) => b.duplicated)}` +
        ` | ${triple(t)} ms | ${Math.round(lps)} | ${mb(peaks.length ? Math.max(...peaks) : undefined)} (${runs[0].peakOf}) |`,
    )
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
  const add = (what: string, measured: string | undefined, met: boolean | undefined) =>
    list.push({ what, measured: measured ?? 'n/a', met })
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
  add(
    'stop: at most 0.4x PM2',
    have(stopBm, stopPm2) ? ratio(stopBm!, stopPm2!) : undefined,
    have(stopBm, stopPm2) ? stopBm! <= 0.4 * stopPm2! : undefined,
  )
  add(
    "stop: under 150 ms beyond the servers' own shutdown (floor)",
    have(stopBm, stopFloor) ? `+${ms(stopBm! - stopFloor!)} ms` : undefined,
    have(stopBm, stopFloor) ? stopBm! - stopFloor! < 150 : undefined,
  )
  add(
    'start: no slower than PM2',
    have(startBm, startPm2) ? ratio(startBm!, startPm2!) : undefined,
    have(startBm, startPm2) ? startBm! <= startPm2! : undefined,
  )
  add(
    "start: under 150 ms beyond the servers' own readiness (floor)",
    have(startBm, startFloor) ? `+${ms(startBm! - startFloor!)} ms` : undefined,
    have(startBm, startFloor) ? startBm! - startFloor! < 150 : undefined,
  )
  const restartBound = have(stopPm2, startPm2) ? 0.4 * stopPm2! + startPm2! : undefined
  add(
    'restart: under the sum of the two bounds above (0.4x PM2 stop + PM2 start)',
    have(restartBm, restartBound) ? `${ms(restartBm!)} ms vs ${ms(restartBound!)} ms` : undefined,
    have(restartBm, restartBound) ? restartBm! < restartBound! : undefined,
  )
  add(
    'status: no slower than pm2 jlist',
    have(statusBm, statusPm2) ? ratio(statusBm!, statusPm2!) : undefined,
    have(statusBm, statusPm2) ? statusBm! <= statusPm2! : undefined,
  )
  const bursts = r.bursts.filter((b) => b.tool === bm)
  const lost = bursts.reduce((s, b) => s + b.lost, 0)
  const torn = bursts.reduce((s, b) => s + b.torn, 0)
  const duplicated = bursts.reduce((s, b) => s + b.duplicated, 0)
  const peak = bursts.some((b) => b.peakRssBytes !== undefined)
    ? Math.max(...bursts.map((b) => b.peakRssBytes ?? 0))
    : undefined
  add(
    'logs: 0 lines lost or torn',
    bursts.length ? `${lost} lost, ${torn} torn, ${duplicated} duplicated in ${bursts.length} rounds` : undefined,
    bursts.length ? lost === 0 && torn === 0 && duplicated === 0 : undefined,
  )
  add(
    'logs: supervisor peak RSS under 80 MB',
    peak !== undefined ? mb(peak) : undefined,
    peak !== undefined ? peak < 80 * 1024 * 1024 : undefined,
  )
  const idleBm = r.memory.find((x) => x.tool === bm)?.rssBytes
  const idlePm2 = r.memory.find((x) => x.tool === 'PM2')?.rssBytes
  add(
    "memory: idle supervisor RSS below PM2's daemon",
    have(idleBm, idlePm2) ? `${mb(idleBm)} vs ${mb(idlePm2)}` : undefined,
    have(idleBm, idlePm2) ? idleBm! < idlePm2! : undefined,
  )
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
    ...(r.proxy ? [renderProxySection(r.proxy, r.sharedMachine), ''] : []),
    '## Logs (6): 8 processes x 20,000 lines at once',
    '',
    ...burstTable(r),
    '',
    '## Memory (7): the idle daemon, 8 servers running (median of 5 samples after 2 s idle)',
    '',
    ...memoryTable(r),
    '',
    ...(r.live ? [renderLiveSection(r.live, r.sharedMachine), ''] : []),
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...t.map((x) => `| ${x.what} | ${x.measured} | ${x.met === undefined ? 'n/a' : x.met ? 'yes' : '**no**'} |`),
    '',
    'The proxy targets are in the proxy section above (per `worker_processes` value), the running-stack ones in theirs.',
    '',
  ].join('\n')
}
// ---------------------------------------------------------------- the proxy comparison

export const PROXY_BEGIN = '<!-- proxy comparison: rewritten by `make -C bench proxy` -->'
export const PROXY_END = '<!-- end of proxy comparison -->'

const medianOf2 = (values: number[]) => stats(values.filter(Number.isFinite))?.median ?? NaN
const x2 = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a')
const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a')
const msText = (v: number, digits = 3) => (Number.isFinite(v) ? `${v.toFixed(digits)} ms` : 'n/a')

// The median over rounds of a / b, each ratio taken within one round (the same background load).
function roundRatio(
  b: ProxyBackendResults,
  a: string,
  over: (round: Map<string, number>) => number | undefined,
): number {
  return medianOf2(b.rounds.map((r) => (r.get(a) ?? NaN) / (over(r) ?? NaN)))
}

const direct = (b: ProxyBackendResults) => b.subjects.find((s) => s.kind === 'direct')!
const ofKind = (b: ProxyBackendResults, kind: ProxySubject['kind']) => b.subjects.filter((s) => s.kind === kind)
const maxOf = (r: Map<string, number>, subjects: ProxySubject[]) =>
  subjects.length ? Math.max(...subjects.map((s) => r.get(s.name) ?? NaN)) : undefined
const resolvedThreads = (p: ProxyResults, workers: string) => (workers === 'auto' ? String(p.cores) : workers)

// Latency this subject adds over direct at the steady rate: the median of the differences to the direct
// runs interleaved with its own.
function added(s: ProxySubject, q: 'p50Ms' | 'p99Ms'): number {
  return medianOf2(s.paced.map((run, i) => run[q] - (s.pacedDirect[i]?.[q] ?? NaN)))
}

function subjectLabel(s: ProxySubject): string {
  return s.generated ? `${s.name} (as generated)` : s.name
}

function flatTable(b: ProxyBackendResults): string[] {
  const out = [
    '| target | req/s (median) | ÷ direct | p50 | p99 | errors | CPU µs per request: servers / proxy / rest (load tool, machine) |',
    '|---|---|---|---|---|---|---|',
  ]
  for (const s of b.subjects) {
    const rps = medianOf2(s.runs.map((r) => r.requestsPerSecond))
    const vs = s.kind === 'direct' ? '' : pct(roundRatio(b, s.name, (r) => r.get(direct(b).name)))
    const cpu = s.runs.map((r) => r.cpuPer1000).filter((c) => c !== undefined)
    const c = (k: 'servers' | 'proxy' | 'rest') => medianOf2(cpu.map((x) => x[k])).toFixed(0)
    const errors = s.runs.reduce((n, r) => n + r.errors, 0)
    out.push(
      `| ${subjectLabel(s)} | ${rps.toFixed(0)} | ${vs}` +
        ` | ${msText(medianOf2(s.runs.map((r) => r.p50Ms)), 2)} | ${msText(medianOf2(s.runs.map((r) => r.p99Ms)), 2)}` +
        ` | ${errors} | ${cpu.length ? `${c('servers')} / ${c('proxy')} / ${c('rest')}` : ''} |`,
    )
  }
  return out
}

function ratioTable(p: ProxyResults, b: ProxyBackendResults): string[] {
  const haproxies = ofKind(b, 'haproxy')
  const out = [
    '| nginx req/s | ÷ HAProxy, same thread count |' +
      ' ÷ HAProxy, best of its runs |' +
      ' ÷ Caddy | ÷ Node http-proxy |' +
      ' proxy CPU per request: nginx ÷ HAProxy (same threads), Caddy, Node |',
    '|---|---|---|---|---|---|',
  ]
  for (const n of ofKind(b, 'nginx')) {
    const same = haproxies.find((h) => h.threads === resolvedThreads(p, n.threads!))
    const caddy = ofKind(b, 'caddy')[0]
    const node = ofKind(b, 'node')[0]
    // CPU time per request barely moves with the background load, unlike req/s on a shared machine.
    const cpu = (x: ProxySubject | undefined) => (x ? medianOf2(x.runs.map((r) => r.cpuPer1000?.proxy ?? NaN)) : NaN)
    const cpuVs = [same, caddy, node].map((x) => x2(cpu(n) / cpu(x))).join(', ')
    out.push(
      `| ${subjectLabel(n)} | ${same ? `${x2(roundRatio(b, n.name, (r) => r.get(same.name)))} (nbthread ${same.threads})` : 'n/a'}` +
        ` | ${haproxies.length ? x2(roundRatio(b, n.name, (r) => maxOf(r, haproxies))) : 'n/a'}` +
        ` | ${caddy ? x2(roundRatio(b, n.name, (r) => r.get(caddy.name))) : 'n/a'}` +
        ` | ${node ? x2(roundRatio(b, n.name, (r) => r.get(node.name))) : 'n/a'} | ${cpuVs} |`,
    )
  }
  return out
}

function pacedTable(b: ProxyBackendResults): string[] {
  const out = [`| target | p50 | p99 | added over direct: p50 / p99 | requests | errors |`, '|---|---|---|---|---|---|']
  for (const s of b.subjects) {
    const more = s.kind === 'direct' ? '' : `${signed(added(s, 'p50Ms'), 3)} ms / ${signed(added(s, 'p99Ms'), 3)} ms`
    const n = s.paced.reduce((t, r) => t + r.samples, 0)
    const e = s.paced.reduce((t, r) => t + r.errors, 0)
    out.push(
      `| ${subjectLabel(s)} | ${msText(medianOf2(s.paced.map((r) => r.p50Ms)))}` +
        ` | ${msText(medianOf2(s.paced.map((r) => r.p99Ms)))} | ${more} | ${n} | ${e} |`,
    )
  }
  return out
}

interface VariantTargets {
  workers: string
  generated: boolean
  checks: { what: string; value: string; met: boolean | undefined }[]
}

export function proxyTargets(p: ProxyResults): VariantTargets[] {
  const b = p.demo
  const haproxies = ofKind(b, 'haproxy')
  const caddy = ofKind(b, 'caddy')[0]
  const node = ofKind(b, 'node')[0]
  return ofKind(b, 'nginx').map((n) => {
    const checks: VariantTargets['checks'] = []
    const add = (what: string, v: number, met: (v: number) => boolean, show: (v: number) => string) =>
      checks.push({ what, value: Number.isFinite(v) ? show(v) : 'n/a', met: Number.isFinite(v) ? met(v) : undefined })
    add('>= 2x Caddy req/s', caddy ? roundRatio(b, n.name, (r) => r.get(caddy.name)) : NaN, (v) => v >= 2, x2)
    add('>= 2x Node http-proxy req/s', node ? roundRatio(b, n.name, (r) => r.get(node.name)) : NaN, (v) => v >= 2, x2)
    const same = haproxies.find((h) => h.threads === resolvedThreads(p, n.threads!))
    add(
      '>= HAProxy req/s (nbthread = the worker count)',
      same ? roundRatio(b, n.name, (r) => r.get(same.name)) : NaN,
      (v) => v >= 1,
      x2,
    )
    const uv = p.uvicorn?.subjects.find((s) => s.kind === 'nginx' && s.threads === n.threads)
    add(
      'uvicorn proxied >= 95% of direct req/s',
      uv && p.uvicorn ? roundRatio(p.uvicorn, uv.name, (r) => r.get(direct(p.uvicorn!).name)) : NaN,
      (v) => v >= 0.95,
      pct,
    )
    add(
      `p99 added under 1 ms at ${p.rate} req/s (demo server)`,
      added(n, 'p99Ms'),
      (v) => v < 1,
      (v) => `${signed(v, 3)} ms`,
    )
    add(
      `p99 added under 1 ms at ${p.rate} req/s (uvicorn)`,
      uv && p.uvicorn ? added(uv, 'p99Ms') : NaN,
      (v) => v < 1,
      (v) => `${signed(v, 3)} ms`,
    )
    return { workers: n.threads!, generated: n.generated === true, checks }
  })
}

// Among fixed worker counts (auto is the core count here, the same config as that number; on a
// 16-core laptop it would mean 16 workers): most targets met, then the higher ratio to the best HAProxy.
export function recommendedWorkers(p: ProxyResults): string | undefined {
  const haproxies = ofKind(p.demo, 'haproxy')
  const score = (v: VariantTargets) => {
    const n = ofKind(p.demo, 'nginx').find((s) => s.threads === v.workers)!
    const vsHaproxy = haproxies.length
      ? roundRatio(p.demo, n.name, (r) => maxOf(r, haproxies))
      : medianOf2(n.runs.map((r) => r.requestsPerSecond))
    return [v.checks.filter((c) => c.met).length, vsHaproxy]
  }
  const ranked = proxyTargets(p)
    .filter((v) => v.workers !== 'auto')
    .map((v) => ({ v, s: score(v) }))
    .sort((a, b) => b.s[0] - a.s[0] || b.s[1] - a.s[1])
  return ranked[0]?.v.workers
}

function targetsTable(p: ProxyResults): string[] {
  const variants = proxyTargets(p)
  if (variants.length === 0) return []
  const head = variants.map((v) => `worker_processes ${v.workers}${v.generated ? ' (as generated)' : ''}`)
  const out = [`| target (PRODUCT.md) | ${head.join(' | ')} |`, `|---|${variants.map(() => '---').join('|')}|`]
  for (let i = 0; i < variants[0].checks.length; i++) {
    const cells = variants.map((v) => {
      const c = v.checks[i]
      return `${c.value} ${c.met === undefined ? '' : c.met ? 'yes' : '**no**'}`.trim()
    })
    out.push(`| ${variants[0].checks[i].what} | ${cells.join(' | ')} |`)
  }
  return out
}

export function renderProxySection(p: ProxyResults, sharedMachine: boolean): string {
  const rec = recommendedWorkers(p)
  const lines = [
    PROXY_BEGIN,
    '## Proxy (5): the generated nginx against HAProxy, Caddy and a Node http-proxy',
    '',
    `- Date: ${p.date}` +
      (sharedMachine
        ? '; a shared machine (other jobs running), so absolute figures are noisy: read the ratios, each taken within one round'
        : ''),
    `- Versions: ${p.versions.join('; ')}`,
    ...p.method.map((m) => `- ${m.charAt(0).toUpperCase()}${m.slice(1)}`),
    '- Each proxy on 127.0.0.1 in front of the same two instances, round robin, keep-alive to the backends:' +
      ' nginx as generated (upstream `keepalive 32`), with only `worker_processes` changed per variant' +
      '; HAProxy `nbthread` N, `http-reuse always`, `option forwardfor`' +
      '; Caddy `reverse_proxy` with `keepalive 65s`, 32 idle connections per backend' +
      '; Node: bench/node-proxy.mjs (http-proxy, keep-alive agent)',
    ...(p.skipped.length ? [`- Not measured: ${p.skipped.join('; ')}`] : []),
    '',
    `### Flat out, demo server (${p.connections} connections, median of the runs; ratios are medians of per-round ratios)`,
    '',
    ...flatTable(p.demo),
    '',
    ...ratioTable(p, p.demo),
    '',
    `### Steady ${p.rate} requests/s, demo server (median of the runs; each proxied run interleaved with a direct one)`,
    '',
    ...pacedTable(p.demo),
    '',
  ]
  if (p.uvicorn)
    lines.push(
      '### uvicorn + FastAPI: direct vs through the generated nginx (one uvicorn process behind it)',
      '',
      ...flatTable(p.uvicorn),
      '',
      `At a steady ${p.rate} requests/s:`,
      '',
      ...pacedTable(p.uvicorn),
      '',
    )
  lines.push(
    '### Proxy targets per worker_processes value',
    '',
    ...targetsTable(p),
    '',
    `Generated today: \`worker_processes ${p.generatedWorkers};\`. By these figures: \`worker_processes ${rec ?? 'n/a'};\`` +
      ` (of the fixed counts: most targets met, then the higher ratio to HAProxy; ` +
      `\`auto\` starts one worker per core, ${p.cores} here: where that equals a fixed row, the two rows differ only by noise).`,
    PROXY_END,
  )
  return lines.join('\n')
}

// Puts the proxy section into RESULTS.md text, replacing the one there (or appending it).
export function spliceProxySection(markdown: string, section: string): string {
  const begin = markdown.indexOf(PROXY_BEGIN)
  const end = markdown.indexOf(PROXY_END)
  if (begin < 0 || end < begin) {
    // A file from before the markers: replace its proxy section, up to the next one.
    const old = /^## Proxy[^\n]*\n[\s\S]*?(?=^## )/m.exec(markdown)
    if (old) return markdown.slice(0, old.index) + section + '\n\n' + markdown.slice(old.index + old[0].length)
    return `${markdown.trimEnd()}\n\n${section}\n`
  }
  return markdown.slice(0, begin) + section + markdown.slice(end + PROXY_END.length)
}
