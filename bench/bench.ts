// make bench: backend-manager side by side with PM2 and supervisord on the same 8 demo servers, in
// one run, tools alternated per iteration after a warm-up, so the ratios hold on a noisy machine.
// Everything it starts (stacks, PM2's daemon, supervisord) is stopped at the end, also on failure.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  benchDir,
  benchSession,
  freePortRange,
  healthChecker,
  machineShared,
  now,
  pidAlive,
  pollUntil,
  procStatus,
  repoRoot,
  run,
  sleep,
  stackGone,
  stats,
  type RunResult,
} from './common.ts'
import { loadTool } from './load.ts'
import { liveTargets } from './live-report.ts'
import { runLiveScenario } from './live-scenario.ts'
import { runBurst, runLogsBurstScript } from './logs-scenario.ts'
import { programs } from './programs.ts'
import { runProxyScenario } from './proxy-scenario.ts'
import { renderMarkdown, targets, type Results } from './report.ts'
import { BackendManager, DirectSpawn, Pm2, Supervisord, type ProcSet, type Tool } from './tools.ts'

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 7)
const STATUS_RUNS = 3
const BURST_LINES = 20_000
const BURST_ROUNDS = 3
const INSTANCES = 8
// Precompiled by default: tsx's own start-up (~200 ms per process) would otherwise dominate every tool equally.
const SERVER_MODE = process.env.BENCH_SERVER === 'tsx' ? 'tsx' : 'js'
const REFERENCE = 'backend-manager'

const log = (line: string) => process.stderr.write(`bench: ${line}\n`)
const started = now()

const { tmp, teardowns, cleanup } = benchSession('bm-bench-', log)

function cliMode(): string {
  const stamp = path.join(repoRoot, 'dist', '.stamp')
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const full = path.join(dir, e.name)
      return Math.max(m, e.isDirectory() ? newest(full) : e.name.endsWith('.ts') ? fs.statSync(full).mtimeMs : 0)
    }, 0)
  try {
    const built = fs.statSync(stamp).mtimeMs
    if (built >= newest(path.join(repoRoot, 'lib')) && built >= newest(path.join(repoRoot, 'scripts')))
      return 'the compiled build in dist/'
  } catch {
    // No build yet.
  }
  return 'the TypeScript sources through tsx (dist/ missing or older than the sources: run "make build")'
}

async function machine(bm: BackendManager, serverLabel: string): Promise<string[]> {
  const osName = (fs.readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m) ?? [])[1] ?? os.type()
  const nginx = await run(process.execPath, [path.join(repoRoot, 'bin', 'backend-manager.js'), 'check-nginx'], {
    env: bm.env,
    ok: [0, 1],
  })
  const supervisord = Supervisord.available()
    ? (await run('supervisord', ['--version'])).stdout.trim()
    : 'not installed'
  const wrk = loadTool()
  const cpus = os.cpus()
  return [
    `Date: ${new Date().toISOString()}`,
    `Machine: ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'})` +
      `, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB RAM, ${osName}, Linux ${os.release()}`,
    `Versions: node ${process.version}, nginx ${(nginx.stdout.match(/version:\s*(\S+)/) ?? [])[1] ?? 'n/a'}` +
      `, PM2 ${Pm2.available() ? Pm2.version() : 'not installed'}, supervisord ${supervisord}` +
      `, load from ${wrk ? `${wrk.name} ${wrk.version}` : 'n/a'}`,
    `Servers: ${INSTANCES} x ${serverLabel} (identical argv and environment under every tool); backend-manager CLI: ${cliMode()}`,
    `Method: ${ITERATIONS} iterations after 1 warm-up, the tool order rotated every iteration` +
      `; min / median / max over the iterations (status: ${STATUS_RUNS} calls per iteration)`,
    `Daemons kept running between iterations as their users would: PM2's God daemon and supervisord` +
      `; backend-manager's supervisor starts with each start and exits with each stop (its cost is inside the timings)`,
  ]
}

function record(table: Map<string, Map<string, number[]>>, scenario: string, tool: string, value: number): void {
  const byTool = table.get(scenario) ?? new Map<string, number[]>()
  table.set(scenario, byTool)
  byTool.set(tool, [...(byTool.get(tool) ?? []), value])
}

interface Subject {
  tool: Tool
  ports: number[]
  processes: number
}

// backend-manager prints its own timing (start and restart from after the config is loaded, stop
// from taking the lock): the rest of the wall time is node's start-up, module loading, config parsing.
const OWN_TIMER: Record<string, RegExp> = {
  start: /ready in (\d+) ms/,
  stop: /processes in (\d+) ms; all ports released/,
  restart: /restarted \d+ processes in (\d+) ms/,
}

interface Timed {
  ms: number
  inside?: number
}

function inside(scenario: string, s: Subject, out: RunResult): number | undefined {
  if (!(s.tool instanceof BackendManager)) return undefined
  const m = OWN_TIMER[scenario].exec(out.stdout)
  return m ? Number(m[1]) : undefined
}

async function timeStart(s: Subject): Promise<Timed> {
  const t0 = now()
  const out = await s.tool.start()
  await pollUntil(`${s.tool.name}: every server healthy`, healthChecker(s.ports))
  const ms = now() - t0
  const pids = await s.tool.pids()
  if (pids.length !== s.processes)
    throw new Error(`${s.tool.name}: expected ${s.processes} processes after start, found ${pids.length}`)
  return { ms, inside: inside('start', s, out) }
}

async function timeStop(s: Subject): Promise<Timed> {
  const pids = await s.tool.pids()
  const t0 = now()
  const out = await s.tool.stop()
  await pollUntil(`${s.tool.name}: every port released and no process left`, () => stackGone(s.ports, pids))
  return { ms: now() - t0, inside: inside('stop', s, out) }
}

async function timeRestart(s: Subject): Promise<Timed> {
  // A proxy reloaded in place (backend-manager's nginx on a restart of the same config) keeps its pid.
  const old = await (s.tool.serverPids?.() ?? s.tool.pids())
  const healthy = healthChecker(s.ports)
  const t0 = now()
  const out = await s.tool.restart()
  await pollUntil(
    `${s.tool.name}: restarted and healthy`,
    async () => old.every((p) => !pidAlive(p)) && (await healthy()),
  )
  return { ms: now() - t0, inside: inside('restart', s, out) }
}

async function lifecycle(subjects: Subject[], results: Results): Promise<void> {
  for (let iteration = 0; iteration <= ITERATIONS; iteration++) {
    const warmUp = iteration === 0
    const order = subjects.map((_, i) => subjects[(i + iteration) % subjects.length])
    for (const s of order) {
      const name = s.tool.name
      const keep = (scenario: string, value: number | Timed) => {
        if (warmUp) return
        record(results.timings, scenario, name, typeof value === 'number' ? value : value.ms)
        if (typeof value !== 'number' && value.inside !== undefined)
          record(results.inside, scenario, name, value.inside)
      }
      const start = await timeStart(s)
      keep('start', start)
      const status: number[] = []
      if (!(s.tool instanceof DirectSpawn))
        for (let i = 0; i < STATUS_RUNS; i++) status.push((await s.tool.status()).ms)
      for (const v of status) keep('status', v)
      const restart = await timeRestart(s)
      keep('restart', restart)
      const stop = await timeStop(s)
      keep('stop', stop)
      log(
        `${warmUp ? 'warm-up' : `iteration ${iteration}/${ITERATIONS}`} ${name}` +
          `: start ${start.ms.toFixed(0)} ms, restart ${restart.ms.toFixed(0)} ms` +
          `, stop ${stop.ms.toFixed(0)} ms${status.length ? `, status ${status.map((v) => v.toFixed(0)).join('/')} ms` : ''}`,
      )
    }
  }
}

async function memoryScenario(subjects: Subject[], results: Results): Promise<void> {
  for (const s of subjects) {
    await s.tool.start()
    await pollUntil(`${s.tool.name}: healthy`, healthChecker(s.ports))
    // Idle: nothing is starting or logging any more; then the median of a few samples.
    await sleep(2000)
    const pid = s.tool.daemonPid()
    const samples: number[] = []
    for (let i = 0; i < 5; i++, await sleep(250))
      if (pid !== undefined && pidAlive(pid)) samples.push(procStatus(pid, 'VmRSS') ?? NaN)
    const what =
      s.tool instanceof BackendManager ? 'its supervisor' : s.tool instanceof Pm2 ? 'its God daemon' : 'supervisord'
    results.memory.push({ tool: s.tool.name, what, rssBytes: stats(samples.filter(Number.isFinite))?.median })
    await timeStop(s)
  }
}

// What each tool's command line costs before it does anything: the runtime's own start-up.
async function bootCosts(results: Results, bm: BackendManager, pm2: Pm2 | undefined): Promise<void> {
  const probes: [string, string, string[], NodeJS.ProcessEnv][] = [
    ['node itself (`node -e 0`)', process.execPath, ['-e', '0'], process.env],
    [
      'backend-manager CLI (`--help`)',
      process.execPath,
      [path.join(repoRoot, 'bin', 'backend-manager.js'), '--help'],
      bm.env,
    ],
    [
      'backend-manager CLI through tsx (`--help`)',
      process.execPath,
      [path.join(repoRoot, 'bin', 'backend-manager.js'), '--help'],
      { ...bm.env, BACKEND_MANAGER_NO_BUILD: '1' },
    ],
    ...(pm2
      ? [
          [
            'PM2 CLI (`pm2 --version`)',
            process.execPath,
            [path.join(benchDir, 'node_modules', 'pm2', 'bin', 'pm2'), '--version'],
            pm2.env,
          ] as [string, string, string[], NodeJS.ProcessEnv],
        ]
      : []),
    ...(Supervisord.available()
      ? [
          ['supervisorctl (`--help`)', 'supervisorctl', ['--help'], process.env] as [
            string,
            string,
            string[],
            NodeJS.ProcessEnv,
          ],
        ]
      : []),
  ]
  for (let i = 0; i <= ITERATIONS; i++)
    for (const [label, cmd, args, env] of probes) {
      const r = await run(cmd, args, { env, ok: [0, 1, 2] })
      if (i > 0) record(results.timings, 'CLI start-up alone', label, r.ms)
    }
}

async function main(): Promise<void> {
  const progs = programs(SERVER_MODE)
  const base = await freePortRange(INSTANCES + 1)
  const proxyPort = base + INSTANCES
  const ports = Array.from({ length: INSTANCES }, (_, i) => base + i)
  log(`temp folder ${tmp}; ports ${base}-${base + INSTANCES - 1}, proxy ${proxyPort}; servers: ${progs.server.label}`)
  const demo: ProcSet = { name: 'demo', count: INSTANCES, basePort: base, argv: progs.server.argv }
  const go = path.join(tmp, 'go')
  const burst: ProcSet = {
    name: 'burst',
    count: INSTANCES,
    argv: progs.writer.argv,
    env: { LW_MODE: 'burst', LW_LINES: String(BURST_LINES), LW_GO: go },
  }

  const bm = new BackendManager(REFERENCE, path.join(tmp, 'bm'), { sets: [demo] })
  const bmNginx = new BackendManager(`${REFERENCE} + nginx`, path.join(tmp, 'bm-nginx'), {
    sets: [
      { name: 'web', count: 2, basePort: base, argv: progs.server.argv },
      { name: 'api', count: INSTANCES - 2, basePort: base + 2, argv: progs.server.argv },
    ],
    modules: { api: ['api'] },
    proxyPort,
  })
  const floor = new DirectSpawn(demo)
  const pm2 = Pm2.available() ? new Pm2(path.join(tmp, 'pm2'), [demo, burst]) : undefined
  const sup = Supervisord.available() ? new Supervisord(path.join(tmp, 'supervisord'), [demo, burst]) : undefined
  if (!pm2) log('PM2 is not installed in bench/node_modules: run "make -C bench deps"; comparing without it')
  if (!sup) log('supervisord is not installed: run "make -C bench deps" as root; comparing without it')
  const all: Tool[] = [bm, bmNginx, floor, ...(pm2 ? [pm2] : []), ...(sup ? [sup] : [])]
  for (const tool of all) {
    teardowns.push(() => tool.teardown())
    await tool.setup()
  }

  const subjects: Subject[] = [
    { tool: bm, ports, processes: INSTANCES },
    { tool: bmNginx, ports: [...ports, proxyPort], processes: INSTANCES + 1 },
    ...(pm2 ? [{ tool: pm2, ports, processes: INSTANCES }] : []),
    ...(sup ? [{ tool: sup, ports, processes: INSTANCES }] : []),
    { tool: floor, ports, processes: INSTANCES },
  ]
  const shared = machineShared()
  const results: Results = {
    machine: [...(await machine(bm, progs.server.label)), ...(shared.shared ? [shared.note] : [])],
    timings: new Map(),
    inside: new Map(),
    sharedMachine: shared.shared,
    bursts: [],
    memory: [],
    tools: subjects.map((s) => s.tool.name),
    reference: REFERENCE,
    floor: floor.name,
  }
  for (const scenario of ['start', 'stop', 'restart', 'status']) results.timings.set(scenario, new Map())

  log('1-4: start, status, restart, stop')
  await lifecycle(subjects, results)

  log('5: proxy')
  results.proxy = await runProxyScenario({
    tmp,
    serverArgv: progs.server.argv,
    serverLabel: progs.server.label,
    log,
    onStarted: (stop) => teardowns.push(stop),
  })

  log('6: logs burst')
  const burstNames = Array.from({ length: INSTANCES }, (_, i) => `burst-${i}`)
  const burstOpts = { writers: INSTANCES, linesEach: BURST_LINES, go }
  const bursts = [
    () => runLogsBurstScript(REFERENCE, burstOpts),
    ...(pm2
      ? [
          () =>
            runBurst(
              pm2.use('burst'),
              new Map(burstNames.map((n) => [path.join(pm2.home, 'logs', `${n}-out.log`), n])),
              burstOpts,
            ),
        ]
      : []),
    ...(sup
      ? [
          () =>
            runBurst(sup.use('burst'), new Map(burstNames.map((n) => [path.join(sup.dir, `${n}.log`), n])), burstOpts),
        ]
      : []),
  ]
  for (let round = 0; round < BURST_ROUNDS; round++)
    for (let i = 0; i < bursts.length; i++) {
      const b = await bursts[(i + round) % bursts.length]()
      results.bursts.push(b)
      log(
        `logs round ${round + 1} ${b.tool}: ${b.received}/${b.expected} lines in ${b.ms.toFixed(0)} ms` +
          `, ${b.lost} lost, ${b.torn} torn, ${b.duplicated} duplicated`,
      )
    }
  pm2?.use('demo')
  sup?.use('demo')

  log('7: memory')
  await memoryScenario(
    subjects.filter((s) => s.tool !== bmNginx && s.tool !== floor),
    results,
  )

  log('8-10: running stack: idle manager cost, restart and scale under load')
  results.live = await runLiveScenario({
    tmp,
    serverArgv: progs.server.argv,
    serverLabel: progs.server.label,
    log,
    onStarted: (stop) => teardowns.push(stop),
  })

  log('where the time goes: CLI start-up')
  await bootCosts(results, bm, pm2)
  results.tools.push(...[...results.timings.get('CLI start-up alone')!.keys()])

  const markdown = renderMarkdown(results) + `\nTotal bench time: ${((now() - started) / 1000).toFixed(0)} s.\n`
  process.stdout.write(markdown)
  fs.writeFileSync(path.join(benchDir, 'RESULTS.md'), markdown)
  const missed = [...targets(results), ...(results.live ? liveTargets(results.live) : [])].filter(
    (t) => t.met === false,
  )
  log(missed.length ? `targets missed: ${missed.map((t) => t.what).join('; ')}` : 'every target met')
}

try {
  await main()
} finally {
  await cleanup()
  log(`done in ${((now() - started) / 1000).toFixed(0)} s`)
}
