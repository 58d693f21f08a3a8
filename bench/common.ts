// Shared by every scenario: running a command and timing it, the one outside check (health, ports,
// pids) applied identically to every tool, and the statistics.
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { canBind } from '../lib/os/ports.ts'
import { listeningSockets } from '../lib/os/procfs-net.ts'
import { CLOCK_TICKS, readStat } from '../lib/os/procfs.ts'

export const benchDir = path.dirname(fileURLToPath(import.meta.url))
export const repoRoot = path.resolve(benchDir, '..')

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
export const now = () => performance.now()

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  // Exit codes that count as success; anything else throws with the output.
  ok?: number[]
  timeoutMs?: number
}

// Runs a command to completion; `ms` is its wall time from spawn to exit.
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const ok = opts.ok ?? [0]
  const started = now()
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      const ms = now() - started
      if (!ok.includes(code ?? -1))
        reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}\n${stdout}${stderr}`.trimEnd()))
      else resolve({ code, stdout, stderr, ms })
    })
  })
}

// Polls `done` every few milliseconds; the bench never waits unboundedly.
export async function pollUntil(
  what: string,
  done: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  everyMs = 3,
): Promise<void> {
  const deadline = now() + timeoutMs
  while (!(await done())) {
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

function healthOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/health', agent: false, timeout: 500, headers: { connection: 'close' } },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      },
    )
    req.once('timeout', () => req.destroy())
    req.once('error', () => resolve(false))
  })
}

// The start check for every tool: each port answers /health with 200 (once answered, not asked again).
export function healthChecker(ports: number[]): () => Promise<boolean> {
  const pending = new Set(ports)
  return async () => {
    const results = await Promise.all([...pending].map(async (p) => [p, await healthOk(p)] as const))
    for (const [p, ok] of results) if (ok) pending.delete(p)
    return pending.size === 0
  }
}

// Ports with a LISTEN socket, from /proc/net/tcp and tcp6 (TIME_WAIT does not hold a port): the same
// outside check for every tool.
export function listeningPorts(): Set<number> {
  return new Set(listeningSockets().keys())
}

// A zombie holds no port and no memory; it only waits for its parent to reap it.
export function pidAlive(pid: number): boolean {
  const state = readStat(pid)?.state
  return state !== undefined && state !== 'Z' && state !== 'X'
}

// The stop check for every tool: none of the recorded pids is alive and none of the ports listens.
// The pids first: reading /proc/net/tcp walks the kernel's socket table (~10 ms on some machines).
export function stackGone(ports: number[], pids: number[]): boolean {
  if (pids.some(pidAlive)) return false
  const listening = listeningPorts()
  return ports.every((p) => !listening.has(p))
}

// CPU time (user + system) of these processes so far, in ms; exited ones count 0.
export function cpuMs(pids: number[]): number {
  return pids.reduce((ticks, pid) => ticks + (readStat(pid)?.cpuTicks ?? 0), 0) * (1000 / CLOCK_TICKS)
}

// Busy CPU time of the whole machine so far, in ms (every core, everything but idle and iowait).
export function machineBusyMs(): number {
  const cols = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const total = cols.slice(0, 8).reduce((a, b) => a + b, 0)
  return (total - cols[3] - cols[4]) * 10
}

export function childrenOf(pid: number): number[] {
  const out: number[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name))
    } catch {
      // Gone.
    }
  }
  return out
}

export function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const line = fs
      .readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`))
    return line ? Number(line.split(/\s+/)[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

// Peak RSS restarts from the current RSS, so a scenario's peak is its own (Linux 4.0+; same user or root).
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

// `count` consecutive ports that nothing listens on and that bind now.
// Below the ephemeral range (32768+): the bench polls ports before they listen, and a poll from an
// ephemeral port equal to its target would connect to itself and hold the port.
export async function freePortRange(count: number, from = 21_000): Promise<number> {
  for (let base = from; base < 60_000; base += count + 7) {
    const listening = listeningPorts()
    const ports = Array.from({ length: count }, (_, i) => base + i)
    if (ports.some((p) => listening.has(p))) continue
    let all = true
    for (const p of ports) if (!(await canBind(p))) all = false
    if (all) return base
  }
  throw new Error(`no ${count} consecutive free ports between ${from} and 60000`)
}

export function killGroupOrPid(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal)
      return
    } catch {
      // Not a group leader, or already gone.
    }
  }
}

export interface Stats {
  n: number
  min: number
  median: number
  max: number
}

export function stats(values: number[]): Stats | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { n: sorted.length, min: sorted[0], median, max: sorted[sorted.length - 1] }
}

// Whether other jobs share the machine, from the load average before the bench starts anything.
export function machineShared(): { shared: boolean; note: string } {
  const load1 = Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
  const shared = process.env.BENCH_SHARED_MACHINE === '1' || load1 >= 1
  return {
    shared,
    note:
      `Shared machine: load average ${load1.toFixed(2)} before the bench started anything` +
      `, so absolute figures are noisy; the ratios are taken within one round`,
  }
}

// One bench run's temp folder and teardowns: cleanup stops everything it started (in reverse), once, on
// success, failure or Ctrl+C, then removes the folder (unless BENCH_KEEP=1).
export function benchSession(
  prefix: string,
  log: (line: string) => void,
): { tmp: string; teardowns: (() => Promise<void>)[]; cleanup: () => Promise<void> } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const teardowns: (() => Promise<void>)[] = []
  let cleaned = false
  const cleanup = async () => {
    if (cleaned) return
    cleaned = true
    for (const teardown of teardowns.reverse())
      await teardown().catch((error) => log(`cleanup: ${error instanceof Error ? error.message : error}`))
    if (process.env.BENCH_KEEP !== '1') fs.rmSync(tmp, { recursive: true, force: true })
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      log(`${signal}: stopping everything the bench started`)
      void cleanup().finally(() => process.exit(130))
    })
  return { tmp, teardowns, cleanup }
}
