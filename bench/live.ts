// make -C bench live: only the running-stack comparison against PM2 (idle manager cost with 8 and 50 servers,
// restart and scale under a steady load); rewrites that section of RESULTS.md and leaves the rest as it is.
// `--render` only re-renders the last run's figures (kept in bench/.build/live-results.json).
// Everything it starts is stopped at the end through the pids it recorded, also on failure or Ctrl+C.
import fs from 'node:fs'
import path from 'node:path'
import { benchDir, benchSession, machineShared, now } from './common.ts'
import { liveTargets, renderLiveSection, spliceLiveSection } from './live-report.ts'
import { runLiveScenario, type LiveResults } from './live-scenario.ts'
import { idleWatched } from './watch-scenario.ts'
import { programs } from './programs.ts'

const log = (line: string) => process.stderr.write(`bench: ${line}\n`)
const started = now()
const { tmp, teardowns, cleanup } = benchSession('bm-bench-live-', log)

try {
  const shared = machineShared()
  fs.mkdirSync(path.join(benchDir, '.build'), { recursive: true })
  const raw = path.join(benchDir, '.build', 'live-results.json')
  let results: LiveResults
  if (process.argv.includes('--render')) {
    const saved = JSON.parse(fs.readFileSync(raw, 'utf8'))
    results = saved
    shared.shared = saved.sharedMachine
  } else {
    if (shared.shared) log(shared.note)
    const server = programs('js').server
    const opts = {
      tmp,
      serverArgv: server.argv,
      serverLabel: server.label,
      log,
      onStarted: (stop: () => Promise<void>) => void teardowns.push(stop),
    }
    results = await runLiveScenario(opts)
    log('live: idle supervisor watching 8 servers (start --watch)')
    results.idle.push(...(await idleWatched(opts)))
    // The raw figures too, to re-render or compare runs (not committed).
    fs.writeFileSync(raw, JSON.stringify({ ...results, sharedMachine: shared.shared }, null, 2))
  }
  const section = renderLiveSection(results, shared.shared)
  process.stdout.write(section + '\n')
  const file = path.join(benchDir, 'RESULTS.md')
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n'
  fs.writeFileSync(file, spliceLiveSection(before, section))
  const missed = liveTargets(results).filter((t) => t.met === false)
  log(missed.length ? `targets missed: ${missed.map((t) => t.what).join('; ')}` : 'no target missed')
} finally {
  await cleanup()
  log(`done in ${((now() - started) / 1000).toFixed(0)} s`)
}
