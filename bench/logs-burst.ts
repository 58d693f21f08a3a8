// The logs burst through a real stack: W processes print N lines each as fast as they can; measures
// how fast they all land in the unified log, checks every line arrived exactly once and whole, and
// reads the supervisor's peak RSS.
//   node --import tsx bench/logs-burst.ts [--writers 8] [--lines 20000] [--stderr-every 0]
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({
  options: { writers: { type: 'string' }, lines: { type: 'string' }, 'stderr-every': { type: 'string' } },
})
const writers = Number(values.writers ?? 8)
const lines = Number(values.lines ?? 20_000)
const stderrEvery = Number(values['stderr-every'] ?? 0)
const perWriter = lines + (stderrEvery > 0 ? Math.ceil(lines / stderrEvery) : 0)
const expected = writers * perWriter

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-logs-burst-'))
const go = path.join(home, 'go')
const unified = path.join(home, 'logs', 'backend-unified.log')
const cli = (...args: string[]) =>
  execFileSync(process.execPath, [path.join(repo, 'bin', 'backend-manager.js'), ...args], {
    cwd: repo,
    env: { ...process.env, BACKEND_MANAGER_HOME: home },
    encoding: 'utf8',
  })

function status(pid: number, key: string): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key}:`))
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024
}

function countNewlines(file: string, from: number): { count: number; size: number } {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    const buffer = Buffer.allocUnsafe(Math.max(size - from, 0))
    fs.readSync(fd, buffer, 0, buffer.length, from)
    let count = 0
    for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) count++
    return { count, size: from + buffer.length }
  } finally {
    fs.closeSync(fd)
  }
}

// Every line must be one of the lines a writer printed, whole, and seen exactly once.
function verify(text: string, stream: RegExp) {
  const seen = new Set<string>()
  let torn = 0
  let duplicated = 0
  for (const line of text.split('\n')) {
    if (line === '') continue
    const m = stream.exec(line)
    if (!m) torn++
    else if (seen.has(m[1])) duplicated++
    else seen.add(m[1])
  }
  return { received: seen.size, torn, duplicated }
}

const config = `proxy: { type: none }
logs: { max_size: 0 }
servers:
  - name: burst
    command: node ${JSON.stringify(path.join(repo, 'test', 'fixtures', 'log-writer.mjs'))}
    instances: ${writers}
    health: none
    env: { LW_MODE: burst, LW_LINES: "${lines}", LW_STDERR_EVERY: "${stderrEvery}", LW_GO: ${JSON.stringify(go)} }
`
fs.writeFileSync(path.join(home, 'config.yaml'), config)
try {
  cli('start', path.join(home, 'config.yaml'))
  const state = JSON.parse(fs.readFileSync(path.join(home, 'run', 'state.json'), 'utf8'))
  const supervisor: number = state.supervisor.pid
  // Let the supervisor finish taking over before the burst, then measure from a clean peak.
  await new Promise((r) => setTimeout(r, 1000))
  const idleRss = status(supervisor, 'VmRSS')
  const base = countNewlines(unified, 0)
  const started = performance.now()
  fs.writeFileSync(go, '')
  let landed = 0
  let offset = base.size
  const deadline = Date.now() + 120_000
  while (landed < expected && Date.now() < deadline) {
    const r = countNewlines(unified, offset)
    landed += r.count
    offset = r.size
    if (landed < expected) await new Promise((r) => setTimeout(r, 2))
  }
  const ms = performance.now() - started
  // Anything written twice would arrive after the last expected line.
  await new Promise((r) => setTimeout(r, 500))
  const peakRss = status(supervisor, 'VmHWM')
  const text = fs.readFileSync(unified, 'utf8').split('\n').slice(base.count).join('\n')
  const all = verify(text, /^(burst-\d+ +(?:>> burst-\d+ out|!> burst-\d+ err) \d+) x{48}$/)
  let perFile = 0
  for (let i = 0; i < writers; i++) {
    const own = verify(
      fs.readFileSync(path.join(home, 'logs', `burst-${i}.log`), 'utf8'),
      new RegExp(`^(burst-${i} (?:out|err) \\d+) x{48}$`),
    )
    perFile += own.received - own.torn - own.duplicated
  }
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
  console.log(
    `writers ${writers} x ${lines} lines${stderrEvery ? ` (+1 stderr line every ${stderrEvery})` : ''}: ${expected} lines expected`,
  )
  console.log(
    `unified log: ${all.received} received, ${expected - all.received} lost, ${all.duplicated} duplicated, ${all.torn} torn`,
  )
  console.log(`per-process files: ${perFile} of ${expected} lines whole and exactly once`)
  console.log(
    `time until the last line was in the unified log: ${ms.toFixed(0)} ms = ${Math.round((expected / ms) * 1000)} lines/s`,
  )
  console.log(`supervisor (pid ${supervisor}) RSS: idle ${mb(idleRss)} MB, peak (VmHWM) ${mb(peakRss)} MB`)
  process.exitCode = all.received === expected && all.torn === 0 && all.duplicated === 0 && perFile === expected ? 0 : 1
} finally {
  try {
    cli('stop')
  } catch (error) {
    console.error(String(error))
  }
  fs.rmSync(home, { recursive: true, force: true })
}
