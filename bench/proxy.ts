// make -C bench proxy: only the proxy comparison (the generated nginx, HAProxy, Caddy, a Node http-proxy;
// uvicorn direct vs through nginx); rewrites the proxy section of RESULTS.md and leaves the rest as it is.
// `--render` only re-renders the last run's figures (kept in bench/.build/proxy-results.json).
// Everything it starts is stopped at the end by its recorded process group, also on failure or Ctrl+C.
import fs from 'node:fs'
import path from 'node:path'
import { benchDir, benchSession, machineShared, now } from './common.ts'
import { programs } from './programs.ts'
import { runProxyScenario, type ProxyResults } from './proxy-scenario.ts'
import { recommendedWorkers, renderProxySection, spliceProxySection } from './report.ts'

const log = (line: string) => process.stderr.write(`bench: ${line}\n`)
const started = now()
const { tmp, teardowns: stops, cleanup } = benchSession('bm-bench-proxy-', log)

function tmpdirFor(): string {
  const dir = path.join(benchDir, '.build')
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

try {
  const shared = machineShared()
  const raw = path.join(tmpdirFor(), 'proxy-results.json')
  let results: ProxyResults
  if (process.argv.includes('--render')) {
    // Only re-renders the figures of the last run (after a change to the report).
    const saved = JSON.parse(fs.readFileSync(raw, 'utf8'))
    for (const b of [saved.demo, saved.uvicorn])
      if (b) b.rounds = b.rounds.map((r: Record<string, number>) => new Map(Object.entries(r)))
    results = saved
    shared.shared = saved.sharedMachine
  } else {
    if (shared.shared) log(shared.note)
    const server = programs('js').server
    results = await runProxyScenario({
      tmp,
      serverArgv: server.argv,
      serverLabel: server.label,
      log,
      onStarted: (stop) => stops.push(stop),
    })
    // The raw figures too, to re-render or compare runs (not committed).
    fs.writeFileSync(
      raw,
      JSON.stringify(
        { ...results, sharedMachine: shared.shared },
        (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v),
        2,
      ),
    )
  }
  const section = renderProxySection(results, shared.shared)
  process.stdout.write(section + '\n')
  const file = path.join(benchDir, 'RESULTS.md')
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n'
  fs.writeFileSync(file, spliceProxySection(before, section))
  log(
    `worker_processes by these figures: ${recommendedWorkers(results) ?? 'n/a'} (generated today: ${results.generatedWorkers})`,
  )
} finally {
  await cleanup()
  log(`done in ${((now() - started) / 1000).toFixed(0)} s`)
}
