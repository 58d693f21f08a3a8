// The logs scenario: 8 writers (test/fixtures/log-writer.mjs) print a numbered burst at once.
// backend-manager's figures come from bench/logs-burst.ts (the unified log, checked line by line);
// PM2 and supervisord run the same writers, and the bench checks their log files the same way.
import fs from 'node:fs'
import path from 'node:path'
import { benchDir, now, pidAlive, pollUntil, procStatus, resetPeakRss, run, sleep } from './common.ts'
import type { Tool } from './tools.ts'

export interface BurstResult {
  tool: string
  where: string
  expected: number
  received: number
  lost: number
  torn: number
  duplicated: number
  ms: number
  linesPerSecond: number
  peakRssBytes?: number
  peakOf: string
}

export interface BurstOptions {
  writers: number
  linesEach: number
  // The writers start their burst once this file exists.
  go: string
}

// The writer's line: `<name>-<instance> out <n> <48 x>`.
const LINE = /^(\S+) out (\d+) (x+)$/
const PAYLOAD = 'x'.repeat(48)

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

function readFrom(file: string, offset: number): Buffer {
  const size = sizeOf(file)
  if (size <= offset) return Buffer.alloc(0)
  const fd = fs.openSync(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(size - offset)
    return buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, offset))
  } finally {
    fs.closeSync(fd)
  }
}

function countNewlines(file: string, offset: number): number {
  const buffer = readFrom(file, offset)
  let n = 0
  for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) n++
  return n
}

// PM2 and supervisord keep one file per process (no prefix): a line belongs to the file's writer.
export async function runBurst(tool: Tool, files: Map<string, string>, opts: BurstOptions): Promise<BurstResult> {
  fs.rmSync(opts.go, { force: true })
  await tool.start()
  const pids = await tool.pids()
  if (pids.length !== opts.writers)
    throw new Error(`${tool.name}: expected ${opts.writers} writers, found ${pids.length}`)
  const daemon = tool.daemonPid()
  // Let the start settle, so the burst and not the start is what the daemon handles.
  await sleep(1000)
  const offsets = new Map([...files.keys()].map((f) => [f, sizeOf(f)]))
  const canReset = daemon !== undefined && resetPeakRss(daemon)
  const expected = opts.writers * opts.linesEach
  const t0 = now()
  fs.writeFileSync(opts.go, '')
  let received = 0
  let lastChange = now()
  await pollUntil(
    `${tool.name} to log ${expected} lines`,
    () => {
      const total = [...files.keys()].reduce((sum, f) => sum + countNewlines(f, offsets.get(f)!), 0)
      if (total !== received) {
        received = total
        lastChange = now()
      }
      // Nothing new for 3 s: whatever is missing is lost.
      return received >= expected || now() - lastChange > 3000
    },
    120_000,
    2,
  )
  const ms = lastChange - t0
  // Anything written twice would arrive after the last expected line.
  await sleep(500)
  const peak = daemon !== undefined && pidAlive(daemon) ? procStatus(daemon, 'VmHWM') : undefined
  const seen = new Map<string, Set<number>>()
  let torn = 0
  let duplicated = 0
  let total = 0
  for (const [file, owner] of files) {
    const lines = readFrom(file, offsets.get(file)!).toString('utf8').split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    total += lines.length
    for (const line of lines) {
      const m = LINE.exec(line)
      if (!m || m[1] !== owner || m[3] !== PAYLOAD || Number(m[2]) >= opts.linesEach) {
        torn++
        continue
      }
      const set = seen.get(owner) ?? new Set<number>()
      seen.set(owner, set)
      if (set.has(Number(m[2]))) duplicated++
      else set.add(Number(m[2]))
    }
  }
  const intact = [...seen.values()].reduce((sum, s) => sum + s.size, 0)
  await tool.stop()
  fs.rmSync(opts.go, { force: true })
  return {
    tool: tool.name,
    where: 'its per-process log files',
    expected,
    received: total,
    lost: expected - intact,
    torn,
    duplicated,
    ms,
    linesPerSecond: intact / (ms / 1000),
    peakRssBytes: peak,
    peakOf: canReset ? 'during the burst' : 'since its start',
  }
}

// backend-manager: bench/logs-burst.ts runs the stack, fires the burst and checks the unified log.
export async function runLogsBurstScript(name: string, opts: Omit<BurstOptions, 'go'>): Promise<BurstResult> {
  const script = path.join(benchDir, 'logs-burst.ts')
  const out = await run(
    process.execPath,
    ['--import', 'tsx', script, '--writers', String(opts.writers), '--lines', String(opts.linesEach)],
    { ok: [0, 1], timeoutMs: 180_000 },
  )
  const text = out.stdout + out.stderr
  const match = (re: RegExp) => {
    const m = re.exec(text)
    if (!m) throw new Error(`bench/logs-burst.ts: no match for ${re} in its output:\n${text}`)
    return m
  }
  const [, received, lost, duplicated, torn] = match(
    /unified log: (\d+) received, (-?\d+) lost, (\d+) duplicated, (\d+) torn/,
  ).map(Number)
  const [, ms] = match(/time until the last line was in the unified log: (\d+) ms/).map(Number)
  const [, peakMb] = match(/peak \(VmHWM\) ([\d.]+) MB/).map(Number)
  const expected = opts.writers * opts.linesEach
  return {
    tool: name,
    where: 'the unified log',
    expected,
    received,
    lost,
    torn,
    duplicated,
    ms,
    linesPerSecond: received / (ms / 1000),
    peakRssBytes: peakMb * 1024 * 1024,
    peakOf: 'since its start',
  }
}
