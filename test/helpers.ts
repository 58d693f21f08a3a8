// Shared helpers for end-to-end tests: run the real CLI against a temporary state dir, find free
// ports, write configs, probe ports and pids, and clean up every process a test started.
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { canBind } from '../lib/os/ports.ts'
import { fileURLToPath } from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures')
export const fixture = (name: string) => path.join(fixturesDir, name)
export const cliEntry = path.join(repoRoot, 'bin', 'backend-manager.js')

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  // A hung command fails the test instead of hanging the suite.
  timeoutMs?: number
}

// The per-user registry of running stacks, private to this test file, so parallel files never see each other's stacks.
export const testStateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-xdg-state-'))
process.once('exit', () => fs.rmSync(testStateHome, { recursive: true, force: true }))

function cliEnv(home: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: testStateHome, ...extra, BACKEND_MANAGER_HOME: home }
}

// The real entry point, as a user runs it; a non-zero exit is a result here, not a failure.
export function runCli(home: string, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliEntry, ...args],
      {
        cwd: opts.cwd ?? repoRoot,
        env: cliEnv(home, opts.env),
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

export interface RunningCli {
  child: ChildProcess
  output(): { stdout: string; stderr: string }
  // Resolves with the exit code and all output once the command ends.
  done: Promise<CliResult>
}

// A long-running command (start --foreground, logs -f) in its own process group, like a terminal job:
// signal it with process.kill(-child.pid, ...) as Ctrl+C would.
export function spawnCli(home: string, args: string[], opts: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [cliEntry, ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: cliEnv(home, opts.env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr })),
  )
  return { child, output: () => ({ stdout, stderr }), done }
}

export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>

// Polls until `condition` returns something truthy; fails with `what` (and the last value) after timeoutMs.
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    last = await condition()
    if (last) return last as Truthy<T>
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last value: ${JSON.stringify(last)})`)
    await sleep(25)
  }
}

// Below the range the kernel hands out to outgoing connections: a test's load (a new connection per request) can
// never take one of these ports between the check and the bind.
function listenRange(count: number): [number, number] {
  let low = 32768
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low
  } catch {
    // Not Linux: the usual default.
  }
  return low - count > 12000 ? [10000, low - count] : [low, 65536 - count]
}

// The first of `count` consecutive ports that are free right now on 127.0.0.1, chosen at random so that test
// files running at once rarely even try the same ones.
export async function freePorts(count = 1): Promise<number> {
  const [from, to] = listenRange(count)
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = from + Math.floor(Math.random() * (to - from))
    let ok = true
    for (let p = base; p < base + count && ok; p++) ok = await canBind(p)
    if (ok) return base
  }
  throw new Error(`no block of ${count} free consecutive ports found from ${from} to ${to}`)
}

// Whether something accepts TCP connections on the port (a real connect, not a bind).
export function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

export interface HttpResult {
  status: number
  body: string
  json<T = any>(): T
}

export function httpRequest(method: string, url: string, body?: string, timeoutMs = 5000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        timeout: timeoutMs,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (d: string) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) }))
      },
    )
    req.once('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)))
    req.once('error', reject)
    req.end(body)
  })
}

export const httpGet = (url: string, timeoutMs?: number) => httpRequest('GET', url, undefined, timeoutMs)

// /proc/PID/stat fields the tests need; undefined when the pid does not exist.
export function procStat(pid: number): { state: string; pgrp: number; session: number; startTime: string } | undefined {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: rest[0], pgrp: Number(rest[2]), session: Number(rest[3]), startTime: rest[19] }
}

// True when the process is gone: ESRCH, a zombie, or (given its start time) a different process on a reused pid.
export function pidGone(pid: number, startTime?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true
  }
  const stat = procStat(pid)
  if (!stat || stat.state === 'Z' || stat.state === 'X') return true
  return startTime !== undefined && startTime !== 'unknown' && stat.startTime !== startTime
}

export const pidAlive = (pid: number, startTime?: string) => !pidGone(pid, startTime)

function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
}

// Live members of a process group (zombies left out).
export function groupMembers(pgid: number): number[] {
  return allPids().filter((pid) => {
    const stat = procStat(pid)
    return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z'
  })
}

export function environValue(pid: number, key: string): string | undefined {
  try {
    const entry = fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .find((e) => e.startsWith(`${key}=`))
    return entry?.slice(key.length + 1)
  } catch {
    return undefined
  }
}

export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
  } catch {
    return ''
  }
}

// Live processes whose environment has KEY=value (every process a test's CLI started inherits its home).
export function processesWithEnv(key: string, value: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && environValue(pid, key) === value && pidAlive(pid))
}

export interface RecordedProcess {
  id: string
  kind: string
  server: string
  port?: number
  pid: number
  pgid: number
  startTime: string
  state: string
  restarts: number
  lastExit?: string
  adopted?: boolean
}

export interface RecordedState {
  runId: string
  phase: string
  supervisor: { pid: number; startTime: string }
  processes: RecordedProcess[]
  [key: string]: unknown
}

export interface ServerYaml {
  name: string
  command: string | string[]
  // Defaults to the repository root, so `node --import tsx examples/server.ts` and fixture paths resolve.
  cwd?: string
  [key: string]: unknown
}

export interface ConfigYaml {
  // Defaults to `{ type: none }`: most tests do not need a proxy.
  proxy?: Record<string, unknown>
  servers: ServerYaml[]
  [key: string]: unknown
}

// Block-style YAML with every value written as JSON (a valid YAML flow scalar/collection), so quoting is never a question.
export function toYaml(config: ConfigYaml): string {
  const lines: string[] = []
  const { proxy = { type: 'none' }, servers, ...rest } = config
  lines.push('proxy:', ...Object.entries(proxy).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`))
  for (const [k, v] of Object.entries(rest)) lines.push(`${k}: ${JSON.stringify(v)}`)
  lines.push('servers:')
  for (const server of servers) {
    const entries = Object.entries({ cwd: repoRoot, ...server })
    entries.forEach(([k, v], i) => lines.push(`${i === 0 ? '  - ' : '    '}${k}: ${JSON.stringify(v)}`))
  }
  return lines.join('\n') + '\n'
}

// A temporary BACKEND_MANAGER_HOME plus its configs; `cleanup` leaves no process and no file behind.
export class TestHome {
  readonly root: string
  readonly statePath: string
  private readonly seen = new Map<number, string>()
  private readonly seenGroups = new Map<number, RecordedProcess>()
  private readonly extra: { pid: number; group: boolean }[] = []

  constructor(prefix = 'bm-e2e-') {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    this.statePath = path.join(this.root, 'run', 'state.json')
  }

  // Writes YAML text (or a ConfigYaml rendered to YAML) and returns the file's path.
  writeConfig(config: string | ConfigYaml, name = 'config.yaml'): string {
    const file = path.join(this.root, name)
    fs.writeFileSync(file, typeof config === 'string' ? config : toYaml(config))
    return file
  }

  cli(args: string[], opts?: CliOptions): Promise<CliResult> {
    return runCli(this.root, args, opts)
  }

  // "status" until it exits 0 or timeoutMs passes; returns the last result. Its probes have short timeouts,
  // so on a busy machine a single run can miss an answer that the next one gets.
  async statusUntilHealthy(timeoutMs = 15_000): Promise<CliResult> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const r = await this.cli(['status'])
      if (r.code === 0 || Date.now() > deadline) return r
      await sleep(200)
    }
  }

  spawnCli(args: string[], opts?: CliOptions): RunningCli {
    const running = spawnCli(this.root, args, opts)
    this.track(running.child.pid!, true)
    return running
  }

  // The state file as written, or undefined; every process it names is remembered for cleanup.
  state(): RecordedState | undefined {
    let parsed: RecordedState
    try {
      parsed = JSON.parse(fs.readFileSync(this.statePath, 'utf8'))
    } catch {
      return undefined
    }
    if (parsed?.supervisor?.pid > 0) this.seen.set(parsed.supervisor.pid, parsed.supervisor.startTime)
    for (const p of Array.isArray(parsed?.processes) ? parsed.processes : []) {
      if (p.pid > 1) this.seen.set(p.pid, p.startTime)
      if (p.pgid > 1) this.seenGroups.set(p.pgid, p)
    }
    return parsed
  }

  record(id: string): RecordedProcess {
    const found = this.state()?.processes.find((p) => p.id === id)
    if (!found) throw new Error(`no process ${id} in ${this.statePath}`)
    return found
  }

  logFile(name: string): string {
    return path.join(this.root, 'logs', name)
  }

  readLog(name: string): string {
    try {
      return fs.readFileSync(this.logFile(name), 'utf8')
    } catch {
      return ''
    }
  }

  // The supervisor's own lines (its events) in the unified log, without their prefix.
  supervisorLines(): string[] {
    const prefix = /^supervisor {10}>> /
    return this.readLog('backend-unified.log')
      .split('\n')
      .filter((l) => prefix.test(l))
      .map((l) => l.replace(prefix, ''))
  }

  // A process the test started itself (an unrelated port owner, ...): killed at cleanup.
  track(pid: number, group = false): void {
    this.extra.push({ pid, group })
  }

  // Every live process started by a CLI run against this home: they all inherit BACKEND_MANAGER_HOME.
  processes(): number[] {
    return processesWithEnv('BACKEND_MANAGER_HOME', this.root)
  }

  // Live supervisors for this home (by their command line) and live processes carrying a run tag (servers and what they started).
  stackProcesses(): { supervisors: number[]; tagged: number[] } {
    const mine = this.processes()
    return {
      supervisors: mine.filter((pid) => / supervise$/.test(commandLine(pid))),
      tagged: mine.filter((pid) => !/\/supervisor$/.test(environValue(pid, 'BACKEND_MANAGER_RUN') ?? '/supervisor')),
    }
  }

  // Group leaders of stacks whose home is a folder below this one (a test's nested home): by the home in their
  // environment, or for nginx (which overwrites its environment) by the prefix on its command line.
  private nestedLeftovers(): number[] {
    const under = (dir: string | undefined) => dir !== undefined && dir.startsWith(`${this.root}/`)
    return allPids().filter((pid) => {
      const stat = procStat(pid)
      if (pid === process.pid || !stat || stat.pgrp !== pid) return false
      const home = environValue(pid, 'BACKEND_MANAGER_STACK_HOME') ?? environValue(pid, 'BACKEND_MANAGER_HOME')
      return under(home) || (/^nginx: master/.test(commandLine(pid)) && commandLine(pid).includes(` -p ${this.root}/`))
    })
  }

  async cleanup(): Promise<void> {
    // Without a state file "stop" has nothing to go on; what is left is found below by pid and environment.
    if (this.state() || fs.existsSync(this.statePath)) await this.cli(['stop'], { timeoutMs: 20_000 })
    this.state()
    for (const [pgid, record] of this.seenGroups) {
      const leader = procStat(pgid)
      // A group whose leader is now some other process was emptied and its number reused: not ours.
      if (leader && leader.pgrp === pgid && leader.startTime !== record.startTime) continue
      if (groupMembers(pgid).length) kill(-pgid)
    }
    for (const [pid, startTime] of this.seen) if (pidAlive(pid, startTime)) kill(pid)
    for (const pid of this.processes()) kill(pid)
    for (const pid of this.nestedLeftovers()) kill(-pid)
    for (const { pid, group } of this.extra) kill(group ? -pid : pid)
    if (!process.env.BM_TEST_KEEP) fs.rmSync(this.root, { recursive: true, force: true })
  }
}

function kill(target: number): void {
  try {
    process.kill(target, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

// A TestHome cleaned up after the test, pass or fail.
export function useHome(t: { after(fn: () => Promise<void> | void): void }, prefix?: string): TestHome {
  const home = new TestHome(prefix)
  t.after(() => home.cleanup())
  return home
}

// Spawns a helper process the test owns (in its own group), tracked for cleanup by `home`;
// with `log`, its stdout and stderr go to that file.
export function spawnOwned(
  home: TestHome,
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; log?: string } = {},
): ChildProcess {
  const out = opts.log === undefined ? 'ignore' : fs.openSync(opts.log, 'a')
  try {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, ...opts.env },
      detached: true,
      stdio: ['ignore', out, out],
    })
    home.track(child.pid!, true)
    child.unref()
    return child
  } finally {
    if (typeof out === 'number') fs.closeSync(out)
  }
}

export function hasCommand(name: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

// A fixture server with short timeouts, so a slow stop or a failed start costs seconds, not minutes.
export function fixtureServer(
  name: string,
  script: string,
  port: number | undefined,
  extra: Partial<ServerYaml> = {},
): ServerYaml {
  return {
    name,
    command: `node test/fixtures/${script}`,
    ...(port === undefined ? { health: 'none' } : { port, health: script === 'http-server.mjs' ? '/health' : 'tcp' }),
    stop_timeout: 0.5,
    ready_timeout: 5,
    ...extra,
  }
}

export async function startOk(home: TestHome, config: string, ...flags: string[]): Promise<CliResult> {
  const r = await home.cli(['start', config, ...flags])
  assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr}\n${home.readLog('supervisor.log')}`)
  return r
}

export async function stopOk(home: TestHome): Promise<CliResult> {
  const r = await home.cli(['stop'])
  assert.equal(r.code, 0, `stop failed:\n${r.stdout}\n${r.stderr}`)
  return r
}

// Two servers: `steady` stays up, `crasher` exits with code 1 after 600 ms, is restarted twice, then is crashed.
export function crashingStack(home: TestHome, base: number): string {
  return home.writeConfig({
    servers: [
      fixtureServer('steady', 'http-server.mjs', base),
      fixtureServer('crasher', 'crasher.mjs', base + 1, {
        restart: 'on-failure',
        max_restarts: 2,
        env: { CRASH_AFTER_MS: '600' },
      }),
    ],
  })
}

// Two servers: `early` becomes ready, `never` never does (a start waits on it for a minute).
export function halfReadyStack(home: TestHome, base: number): string {
  return home.writeConfig({
    servers: [
      fixtureServer('early', 'http-server.mjs', base),
      fixtureServer('never', 'never-ready.mjs', base + 1, { ready_timeout: 60 }),
    ],
  })
}

// Until a start of halfReadyStack is half way: early-0 said ready and never-0 recorded; returns the records.
export async function untilHalfWay(home: TestHome, start: RunningCli, timeoutMs = 30_000): Promise<RecordedProcess[]> {
  await waitFor(
    () => /^ready\s+early-0/m.test(start.output().stdout) && home.state()?.processes.some((p) => p.id === 'never-0'),
    timeoutMs,
    'the start to be half way',
  )
  return home.state()!.processes
}

// The lines of fixtures/log-writer.mjs in burst mode (1000 stdout lines, every 10th also on stderr): each once, in order.
export function assertBurst(lines: string[]): void {
  const numbers = (mark: string, word: string) =>
    lines.filter((l) => l.includes(mark)).map((l) => Number(l.split(` ${word} `)[1].split(' ')[0]))
  assert.deepEqual(
    numbers(' >> ', 'out'),
    Array.from({ length: 1000 }, (_, i) => i),
  )
  assert.deepEqual(
    numbers(' !> ', 'err'),
    Array.from({ length: 100 }, (_, i) => i * 10),
  )
  assert.equal(lines.length, 1100)
}
