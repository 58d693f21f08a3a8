// The running stack against PM2: the idle manager process (CPU and RSS) with 8 and 50 idle servers, a restart
// of a 2-instance server under a steady 200 req/s to its front port, and scaling it to 4 instances and back.
// Everything listens on 127.0.0.1; every stack and PM2 daemon it starts is stopped through what it recorded.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { CLOCK_TICKS, readStat } from '../lib/os/procfs.ts'
import {
  freePortRange,
  healthChecker,
  now,
  pidAlive,
  pollUntil,
  procStatus,
  repoRoot,
  sleep,
  type RunResult,
} from './common.ts'
import { steadyLoad, type SteadyCount } from './load.ts'
import { BackendManager, Pm2 } from './tools.ts'

export interface LiveOptions {
  tmp: string
  serverArgv: string[]
  serverLabel: string
  log: (line: string) => void
  // Called with each started stack's or daemon's teardown, so a Ctrl+C or a failure still stops it.
  onStarted: (stop: () => Promise<void>) => void
}

// Overridable for a quicker look: BENCH_IDLE_WINDOWS, BENCH_IDLE_WINDOW_S, BENCH_IDLE_SETTLE_S, BENCH_LIVE_ITERATIONS.
const IDLE_SIZES = [8, 50]
const IDLE_WINDOWS = Number(process.env.BENCH_IDLE_WINDOWS ?? 3)
const IDLE_WINDOW_S = Number(process.env.BENCH_IDLE_WINDOW_S ?? 30)
const IDLE_SETTLE_S = Number(process.env.BENCH_IDLE_SETTLE_S ?? 5)
const ITERATIONS = Number(process.env.BENCH_LIVE_ITERATIONS ?? 3)
const RATE = 200
// Load before the command, and after it returned: failures that outlive the command count too.
const LEAD_MS = 1000
const TAIL_MS = 3000
const INSTANCES = 2
const SCALE_TO = 4
const BM = 'backend-manager'
// Health checks after ready, more often than the default 5 s: what probing costs the idle supervisor.
export const HEALTH_IDLE_SERVERS = 8
export const HEALTH_IDLE_INTERVAL_S = 1
export const BM_HEALTH = `backend-manager, /health every ${HEALTH_IDLE_INTERVAL_S} s`
const BM_NGINX = 'backend-manager + nginx'

export interface IdleResult {
  tool: string
  what: string
  servers: number
  // One value per window.
  cpuPercent: number[]
  rssBytes: number[]
  // Started with --watch, each server watching a folder of its own.
  watched?: boolean
}

export interface ChangeRun {
  tool: string
  command: string
  // Until the command returned.
  ms: number
  // Scale up: until the command returned and every instance answered through the front port.
  readyMs?: number
  count: SteadyCount
}

export interface LiveResults {
  date: string
  method: string[]
  rate: number
  instances: number
  scaleTo: number
  idle: IdleResult[]
  restarts: ChangeRun[]
  scaleUp: ChangeRun[]
  scaleDown: ChangeRun[]
  // Rows without figures, and why (e.g. "scale: not in this build").
  missing: { scenario: 'restart' | 'scale up' | 'scale down'; tool: string; command: string; why: string }[]
  skipped: string[]
}

// CPU time of one process so far, in ms; throws once it is gone (a manager that died is no idle figure).
function cpuOf(pid: number, who: string): number {
  const stat = readStat(pid)
  if (!stat) throw new Error(`${who} (pid ${pid}) exited during the idle measurement`)
  return stat.cpuTicks * (1000 / CLOCK_TICKS)
}

export interface Daemon {
  tool: string
  what: string
  pid: number
}

// Both managers idle at once, sampled over the same windows: the same background load for both.
export async function idleWindows(daemons: Daemon[], servers: number, log: LiveOptions['log']): Promise<IdleResult[]> {
  await sleep(IDLE_SETTLE_S * 1000)
  const out = daemons.map((d) => ({ tool: d.tool, what: d.what, servers, cpuPercent: [], rssBytes: [] }) as IdleResult)
  for (let w = 0; w < IDLE_WINDOWS; w++) {
    const t0 = now()
    const before = daemons.map((d) => cpuOf(d.pid, d.what))
    await sleep(IDLE_WINDOW_S * 1000)
    const elapsed = now() - t0
    daemons.forEach((d, i) => {
      out[i].cpuPercent.push(((cpuOf(d.pid, d.what) - before[i]) / elapsed) * 100)
      out[i].rssBytes.push(procStatus(d.pid, 'VmRSS') ?? NaN)
    })
    log(
      `idle, ${servers} servers, window ${w + 1}/${IDLE_WINDOWS}: ` +
        out.map((r) => `${r.tool} ${r.cpuPercent.at(-1)!.toFixed(3)}% CPU`).join(', '),
    )
  }
  return out
}

// PM2's own teardown, within its own PM2_HOME: delete the apps, then kill the daemon (then the recorded pids).
function pm2Teardown(pm2: Pm2): () => Promise<void> {
  return async () => {
    // Only with its daemon up: any pm2 command would start a new one.
    const daemon = pm2.daemonPid()
    if (daemon === undefined || !pidAlive(daemon)) return
    await pm2.cli(['delete', 'all'], [0, 1]).catch(() => undefined)
    await pm2.teardown()
  }
}

// backend-manager alone, its servers' health checked every HEALTH_IDLE_INTERVAL_S (the idle rows check every 5 s).
export async function healthIdleScenario(opts: LiveOptions, results: LiveResults): Promise<void> {
  const servers = HEALTH_IDLE_SERVERS
  const base = await freePortRange(servers)
  const bm = new BackendManager(BM_HEALTH, path.join(opts.tmp, `bm-idle-health-${servers}`), {
    sets: [{ name: 'idle', count: servers, basePort: base, argv: opts.serverArgv }],
    health: { check: '/health', interval: HEALTH_IDLE_INTERVAL_S },
  })
  opts.onStarted(() => bm.teardown())
  await bm.setup()
  await bm.start()
  await pollUntil(
    `${servers} idle servers to answer`,
    healthChecker(Array.from({ length: servers }, (_, i) => base + i)),
    120_000,
    100,
  )
  const pid = bm.daemonPid()
  if (!(pid && pid > 0)) throw new Error(`${BM_HEALTH}: no daemon pid recorded`)
  results.idle.push(...(await idleWindows([{ tool: BM_HEALTH, what: 'its supervisor', pid }], servers, opts.log)))
  await bm.stop()
}

async function idleScenario(opts: LiveOptions, results: LiveResults): Promise<void> {
  for (const [k, servers] of IDLE_SIZES.entries()) {
    const base = await freePortRange(2 * servers)
    const set = (basePort: number) => ({ name: 'idle', count: servers, basePort, argv: opts.serverArgv })
    const bm = new BackendManager(BM, path.join(opts.tmp, `bm-idle-${servers}`), { sets: [set(base)] })
    const pm2 = Pm2.available() ? new Pm2(path.join(opts.tmp, `pm2-idle-${servers}`), [set(base + servers)]) : undefined
    const starts: (() => Promise<Daemon>)[] = [
      async () => {
        opts.onStarted(() => bm.teardown())
        await bm.setup()
        await bm.start()
        return { tool: BM, what: 'its supervisor', pid: bm.daemonPid()! }
      },
      ...(pm2
        ? [
            async () => {
              opts.onStarted(pm2Teardown(pm2))
              await pm2.setup()
              await pm2.use('idle').start()
              return { tool: 'PM2', what: 'its God daemon', pid: pm2.daemonPid()! }
            },
          ]
        : []),
    ]
    // The start order alternates between sizes; then both idle together.
    const daemons: Daemon[] = []
    for (let i = 0; i < starts.length; i++) daemons.push(await starts[(i + k) % starts.length]())
    const ports = Array.from({ length: (pm2 ? 2 : 1) * servers }, (_, i) => base + i)
    await pollUntil(`${servers} x 2 idle servers to answer`, healthChecker(ports), 120_000, 100)
    for (const d of daemons) if (!(d.pid > 0)) throw new Error(`${d.tool}: no daemon pid recorded`)
    const idle = await idleWindows(daemons, servers, opts.log)
    results.idle.push(...idle.sort((a, b) => (a.tool === BM ? -1 : b.tool === BM ? 1 : 0)))
    await bm.stop()
    if (pm2) await pm2Teardown(pm2)()
  }
}

// The instances answering through a front URL: the demo server says which one it is.
function whoAnswers(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000, headers: { connection: 'close' } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.once('end', () => {
        try {
          const who = JSON.parse(body) as { instance: number; port: number }
          resolve(res.statusCode === 200 ? `${who.port}/${who.instance}` : undefined)
        } catch {
          resolve(undefined)
        }
      })
    })
    req.once('timeout', () => req.destroy())
    req.once('error', () => resolve(undefined))
  })
}

async function allAnswer(url: string, count: number, what: string): Promise<void> {
  const seen = new Set<string>()
  await pollUntil(
    what,
    async () => {
      const who = await whoAnswers(url)
      if (who) seen.add(who)
      return seen.size >= count
    },
    60_000,
    5,
  )
}

interface Change {
  command: string
  run: () => Promise<RunResult>
  // Resolves once the change shows from outside (scale up: every new instance answers).
  ready?: () => Promise<void>
}

interface LiveSubject {
  tool: string
  url: string
  restart: Change
  scale?: (n: number) => Change
}

async function underLoad(s: LiveSubject, change: Change): Promise<ChangeRun> {
  const load = steadyLoad(s.url, RATE)
  let ms = NaN
  let readyMs: number | undefined
  let count: SteadyCount
  try {
    await sleep(LEAD_MS)
    const t0 = now()
    await change.run()
    ms = now() - t0
    if (change.ready) {
      await change.ready()
      readyMs = now() - t0
    }
    await sleep(TAIL_MS)
  } finally {
    count = await load.stop()
  }
  return { tool: s.tool, command: change.command, ms, readyMs, count }
}

function describe(r: ChangeRun): string {
  const c = r.count
  return (
    `${r.tool} \`${r.command}\`: ${r.ms.toFixed(0)} ms${r.readyMs === undefined ? '' : ` (all answer: ${r.readyMs.toFixed(0)} ms)`}` +
    `, ${c.non2xx + c.errors}/${c.requests} failed (${c.non2xx} non-2xx, ${c.errors} errors)`
  )
}

async function bmSubject(opts: LiveOptions, results: LiveResults, base: number): Promise<LiveSubject> {
  const proxyPort = base + SCALE_TO
  const bm = new BackendManager(BM_NGINX, path.join(opts.tmp, 'bm-live'), {
    sets: [{ name: 'web', count: INSTANCES, basePort: base, argv: opts.serverArgv }],
    proxyPort,
  })
  opts.onStarted(() => bm.teardown())
  await bm.setup()
  await bm.start()
  const url = `http://127.0.0.1:${proxyPort}/`
  await allAnswer(url, INSTANCES, `${BM_NGINX}: both instances through nginx`)
  const help = await bm.cli(['--help'])
  const hasScale = /^\s+scale\s/m.test(help.stdout)
  if (!hasScale)
    for (const [scenario, n] of [
      ['scale up', SCALE_TO],
      ['scale down', INSTANCES],
    ] as const)
      results.missing.push({ scenario, tool: BM_NGINX, command: `scale web=${n}`, why: 'scale: not in this build' })
  return {
    tool: BM_NGINX,
    url,
    restart: { command: 'restart --only web', run: () => bm.cli(['restart', '--only', 'web']) },
    scale: hasScale
      ? (n) => ({
          command: `scale web=${n}`,
          run: () => bm.cli(['scale', `web=${n}`]),
          ready: n > INSTANCES ? () => allAnswer(url, n, `${BM_NGINX}: ${n} instances through nginx`) : undefined,
        })
      : undefined,
  }
}

async function pm2Subject(opts: LiveOptions, port: number): Promise<LiveSubject> {
  const pm2 = new Pm2(path.join(opts.tmp, 'pm2-live'), [])
  opts.onStarted(pm2Teardown(pm2))
  await pm2.setup()
  const argv = opts.serverArgv
  // Cluster mode: the workers share one port through the daemon. Each gets its own INSTANCE, as under
  // backend-manager, through increment_var: instance_var gives every worker added by `pm2 scale` INSTANCE=0.
  const app = {
    name: 'web',
    script: argv[argv.length - 1],
    node_args: argv.slice(1, -1),
    exec_mode: 'cluster',
    instances: INSTANCES,
    increment_var: 'INSTANCE',
    cwd: repoRoot,
    kill_timeout: 3000,
    env: { PORT: String(port), HOST: '127.0.0.1', SERVER_NAME: 'web', INSTANCE: '0' },
  }
  const file = path.join(pm2.home, 'web.config.cjs')
  fs.writeFileSync(file, `module.exports = ${JSON.stringify({ apps: [app] }, null, 2)}\n`)
  await pm2.cli(['start', file])
  const url = `http://127.0.0.1:${port}/`
  await allAnswer(url, INSTANCES, 'PM2: both cluster workers')
  return {
    tool: 'PM2 (cluster mode)',
    url,
    restart: { command: 'pm2 reload web', run: () => pm2.cli(['reload', 'web']) },
    scale: (n) => ({
      command: `pm2 scale web ${n}`,
      run: () => pm2.cli(['scale', 'web', String(n)]),
      ready: n > INSTANCES ? () => allAnswer(url, n, `PM2: ${n} cluster workers`) : undefined,
    }),
  }
}

export async function runLiveScenario(opts: LiveOptions): Promise<LiveResults> {
  const results: LiveResults = {
    date: new Date().toISOString(),
    method: [
      `Servers: ${opts.serverLabel}, the same argv under both tools`,
      `Idle: ${IDLE_SIZES.join(' and ')} servers under each tool (backend-manager without a proxy)` +
        ', both tools running at once (the start order alternates);' +
        ` after ${IDLE_SETTLE_S} s settling, ${IDLE_WINDOWS} windows of ${IDLE_WINDOW_S} s;` +
        ' CPU from /proc/PID/stat (utime + stime) of the manager process alone (not the servers), RSS (VmRSS) at each window end',
      `backend-manager checks each server's /health every 5 s once ready (the default); the "${BM_HEALTH}" row` +
        ` runs ${HEALTH_IDLE_SERVERS} servers checked every ${HEALTH_IDLE_INTERVAL_S} s, alone`,
      `Under load: ${RATE} requests/s, open loop, each on a new connection from 127.0.0.1 (timeout 5 s), from ${LEAD_MS} ms` +
        ` before the command until ${TAIL_MS} ms after it returned (scale up: after every instance answered);` +
        ' failed = non-2xx answers + connection errors and timeouts',
      `backend-manager: ${INSTANCES} instances behind its generated nginx, load to the nginx port` +
        `; PM2: cluster mode (\`-i ${INSTANCES}\`), the workers sharing one port, load to that port`,
      `${ITERATIONS} runs per command, the tool order rotated every run; min / median / max over the runs`,
    ],
    rate: RATE,
    instances: INSTANCES,
    scaleTo: SCALE_TO,
    idle: [],
    restarts: [],
    scaleUp: [],
    scaleDown: [],
    missing: [],
    skipped: [],
  }
  if (!Pm2.available()) results.skipped.push('PM2 (not installed in bench/node_modules: run "make -C bench deps")')

  opts.log('live: idle manager process')
  await idleScenario(opts, results)
  opts.log(`live: idle manager process, health checked every ${HEALTH_IDLE_INTERVAL_S} s`)
  await healthIdleScenario(opts, results)

  opts.log('live: restart and scale under load')
  // backend-manager's instances up to SCALE_TO (scale up takes the next consecutive ports), its nginx, PM2's port.
  const base = await freePortRange(SCALE_TO + 2)
  const subjects = [
    await bmSubject(opts, results, base),
    ...(Pm2.available() ? [await pm2Subject(opts, base + SCALE_TO + 1)] : []),
  ]
  for (let i = 0; i < ITERATIONS; i++)
    for (let j = 0; j < subjects.length; j++) {
      const s = subjects[(i + j) % subjects.length]
      const r = await underLoad(s, s.restart)
      results.restarts.push(r)
      opts.log(`restart ${i + 1}/${ITERATIONS}: ${describe(r)}`)
    }
  for (let i = 0; i < ITERATIONS; i++)
    for (let j = 0; j < subjects.length; j++) {
      const s = subjects[(i + j) % subjects.length]
      if (!s.scale) continue
      try {
        const up = await underLoad(s, s.scale(SCALE_TO))
        results.scaleUp.push(up)
        const down = await underLoad(s, s.scale(INSTANCES))
        results.scaleDown.push(down)
        opts.log(`scale ${i + 1}/${ITERATIONS}: ${describe(up)}; ${describe(down)}`)
      } catch (error) {
        // A scale command that fails is a row saying so, not the end of a 15-minute bench.
        const why = `scale failed: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`
        opts.log(`${s.tool}: ${why}`)
        for (const [scenario, n] of [
          ['scale up', SCALE_TO],
          ['scale down', INSTANCES],
        ] as const)
          results.missing.push({ scenario, tool: s.tool, command: s.scale(n).command, why })
        s.scale = undefined
      }
    }
  return results
}
