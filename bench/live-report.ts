// Renders the running-stack comparison (idle manager cost, restart and scale under load) as its own
// section of RESULTS.md, between markers, so `make -C bench live` can rewrite it alone.
import { stats, type Stats } from './common.ts'
import type { ChangeRun, LiveResults } from './live-scenario.ts'

export const LIVE_BEGIN = '<!-- running stack: rewritten by `make -C bench live` -->'
export const LIVE_END = '<!-- end of running stack -->'

const BM = 'backend-manager'
// Five times the default rate of health checks may add this much (percentage points of one core) to the idle supervisor.
const PROBED_BOUND = 0.2
const pct = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}%` : 'n/a')
const mb = (b: number) => (Number.isFinite(b) ? `${(b / 1024 / 1024).toFixed(1)} MB` : 'n/a')
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1))
const triple = (s: Stats | undefined, f: (v: number) => string) =>
  s ? `${f(s.min)} / **${f(s.median)}** / ${f(s.max)}` : 'n/a'
const median = (values: number[]) => stats(values.filter(Number.isFinite))?.median ?? NaN
const failedOf = (r: ChangeRun) => r.count.non2xx + r.count.errors

function idleTable(r: LiveResults): string[] {
  const out = [
    '| servers | tool | process | CPU, % of one core: min / **median** / max | RSS (median) | ÷ PM2: CPU, RSS |',
    '|---|---|---|---|---|---|',
  ]
  for (const row of r.idle) {
    const pm2 = r.idle.find((x) => x.tool === 'PM2' && x.servers === row.servers)
    const cpu = median(row.cpuPercent)
    const rss = median(row.rssBytes)
    const vs =
      pm2 && row !== pm2 && !row.watched
        ? `${median(pm2.cpuPercent) > 0 ? `${(cpu / median(pm2.cpuPercent)).toFixed(1)}x` : `n/a (PM2 ${pct(median(pm2.cpuPercent))})`}` +
          `, ${(rss / median(pm2.rssBytes)).toFixed(2)}x`
        : ''
    out.push(
      `| ${row.servers} | ${row.tool} | ${row.what} | ${triple(stats(row.cpuPercent), pct)} | ${mb(rss)} | ${vs} |`,
    )
  }
  return out
}

function changeTable(r: LiveResults, runs: ChangeRun[], scenario: 'restart' | 'scale up' | 'scale down'): string[] {
  const up = scenario === 'scale up'
  const out = [
    `| tool | command | failed requests per run (of sent) | failing for (median) | until the command returned: min / **median** / max |` +
      (up ? ` until all ${r.scaleTo} answer through the front port: min / **median** / max |` : ''),
    `|---|---|---|---|---|${up ? '---|' : ''}`,
  ]
  const missing = r.missing.filter((x) => x.scenario === scenario)
  // backend-manager's rows first, whether measured or not in this build.
  const tools = [...new Set([...runs.map((x) => x.tool), ...missing.map((x) => x.tool)])].sort(
    (a, b) => Number(b.startsWith(BM)) - Number(a.startsWith(BM)),
  )
  for (const tool of tools) {
    const gap = missing.find((x) => x.tool === tool)
    if (gap) {
      out.push(`| ${tool} | \`${gap.command}\` | ${gap.why} | | |${up ? ' |' : ''}`)
      continue
    }
    const mine = runs.filter((x) => x.tool === tool)
    const failed = mine.map((x) => `${failedOf(x)}/${x.count.requests}`).join(', ')
    const failing = median(mine.filter((x) => failedOf(x) > 0).map((x) => x.count.failingMs))
    out.push(
      `| ${tool} | \`${mine[0].command}\` | ${failed} | ${Number.isFinite(failing) ? `${ms(failing)} ms` : '-'}` +
        ` | ${triple(stats(mine.map((x) => x.ms)), ms)} ms |` +
        (up ? ` ${triple(stats(mine.map((x) => x.readyMs ?? NaN).filter(Number.isFinite)), ms)} ms |` : ''),
    )
  }
  return out
}

interface LiveTarget {
  what: string
  measured: string
  met: boolean | undefined
}

export function liveTargets(r: LiveResults): LiveTarget[] {
  const list: LiveTarget[] = []
  for (const [servers, bound] of [
    [8, 0.2],
    [50, 0.5],
  ] as const) {
    for (const watched of [false, true]) {
      const row = r.idle.find((x) => x.tool === BM && x.servers === servers && Boolean(x.watched) === watched)
      if (watched && !row) continue
      const cpu = row ? median(row.cpuPercent) : NaN
      list.push({
        what: `idle supervisor: at most ${bound}% of a core with ${servers} servers${watched ? ' watched (--watch)' : ''}`,
        measured: pct(cpu),
        met: Number.isFinite(cpu) ? cpu <= bound : undefined,
      })
    }
  }
  // What checking every second costs over the default (every 5 s): the two 8-server rows of the supervisor.
  const plain = r.idle.find((x) => x.tool === BM && x.servers === 8)
  const probed = r.idle.find((x) => x.tool.startsWith(`${BM},`) && x.servers === 8)
  const added = plain && probed ? median(probed.cpuPercent) - median(plain.cpuPercent) : NaN
  list.push({
    what: `health checks of 8 servers every second: at most ${PROBED_BOUND} points of a core over checks every 5 s`,
    measured: Number.isFinite(added) ? `${added >= 0 ? '+' : ''}${added.toFixed(2)} points` : 'n/a',
    met: Number.isFinite(added) ? added <= PROBED_BOUND : undefined,
  })
  const zero = (what: string, runs: ChangeRun[], missing?: string) => {
    const mine = runs.filter((x) => x.tool.startsWith(BM))
    const failed = mine.reduce((n, x) => n + failedOf(x), 0)
    const sent = mine.reduce((n, x) => n + x.count.requests, 0)
    list.push({
      what,
      measured: missing ?? (mine.length ? `${failed} of ${sent} in ${mine.length} runs` : 'n/a'),
      met: missing || !mine.length ? undefined : failed === 0,
    })
  }
  const absent = (s: string) => r.missing.find((m) => m.scenario === s && m.tool.startsWith(BM))?.why
  zero(`restart --only of a ${r.instances}-instance server: 0 failed at ${r.rate} req/s`, r.restarts)
  zero(`scale to ${r.scaleTo}: 0 failed at ${r.rate} req/s`, r.scaleUp, absent('scale up'))
  zero(`scale back to ${r.instances}: 0 failed at ${r.rate} req/s`, r.scaleDown, absent('scale down'))
  return list
}

export function renderLiveSection(r: LiveResults, sharedMachine: boolean): string {
  return [
    LIVE_BEGIN,
    '## Running stack (8-10): idle manager cost, restart and scale under load, against PM2',
    '',
    `- Date: ${r.date}` +
      (sharedMachine
        ? '; a shared machine (other jobs running): idle CPU is CPU time, so it moves less than wall time'
        : ''),
    ...r.method.map((m) => `- ${m}`),
    ...(r.skipped.length ? [`- Not measured: ${r.skipped.join('; ')}`] : []),
    '',
    '### Idle (8): the manager process itself, its servers running and idle',
    '',
    ...idleTable(r),
    '',
    `### Restart under load (9): a ${r.instances}-instance server, ${r.rate} requests/s to the front port`,
    '',
    ...changeTable(r, r.restarts, 'restart'),
    '',
    `### Scale under load (10): ${r.instances} -> ${r.scaleTo} instances and back, ${r.rate} requests/s to the front port`,
    '',
    ...changeTable(r, r.scaleUp, 'scale up'),
    '',
    ...changeTable(r, r.scaleDown, 'scale down'),
    '',
    '### Running-stack targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...liveTargets(r).map(
      (x) => `| ${x.what} | ${x.measured} | ${x.met === undefined ? 'n/a' : x.met ? 'yes' : '**no**'} |`,
    ),
    LIVE_END,
  ].join('\n')
}

// Puts the section into RESULTS.md text: in place of the one there, else before the targets, else at the end.
export function spliceLiveSection(markdown: string, section: string): string {
  const begin = markdown.indexOf(LIVE_BEGIN)
  const end = markdown.indexOf(LIVE_END)
  if (begin >= 0 && end > begin) return markdown.slice(0, begin) + section + markdown.slice(end + LIVE_END.length)
  const targets = markdown.search(/^## Targets$/m)
  if (targets >= 0) return `${markdown.slice(0, targets)}${section}\n\n${markdown.slice(targets)}`
  return `${markdown.trimEnd()}\n\n${section}\n`
}
