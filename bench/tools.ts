// One adapter per tool, each driving the tool the way its users do (its own CLI), over the same
// processes: backend-manager, PM2 (its own PM2_HOME), supervisord (its own config and socket), and
// the bench spawning the processes itself, the floor no manager can beat.
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { benchDir, killGroupOrPid, pidAlive, pollUntil, repoRoot, run, sleep, type RunResult } from './common.ts'

// A set of identical processes: instance i gets PORT base+i (when it has ports), HOST, SERVER_NAME, INSTANCE.
export interface ProcSet {
  name: string
  count: number
  basePort?: number
  argv: string[]
  env?: Record<string, string>
}

export interface Tool {
  name: string
  // Brings the tool's own daemon up and writes its config; not timed.
  setup(): Promise<void>
  start(): Promise<RunResult>
  stop(): Promise<RunResult>
  restart(): Promise<RunResult>
  status(): Promise<RunResult>
  // The pids of the managed processes now (not timed).
  pids(): Promise<number[]>
  // The servers' pids alone, where the tool keeps its proxy running across a restart.
  serverPids?(): Promise<number[]>
  // The tool's own long-lived process, if it has one while the stack runs.
  daemonPid(): number | undefined
  // Stops everything this tool runs, its daemon included.
  teardown(): Promise<void>
}

function instanceEnv(set: ProcSet, i: number): Record<string, string> {
  return {
    ...(set.basePort === undefined ? {} : { PORT: String(set.basePort + i) }),
    HOST: '127.0.0.1',
    SERVER_NAME: set.name,
    INSTANCE: String(i),
    ...set.env,
  }
}

// ---------------------------------------------------------------- backend-manager

export interface BmStack {
  sets: ProcSet[]
  // Modules per set name; the set without modules owns "/".
  modules?: Record<string, string[]>
  proxyPort?: number
  // The health of every set with a port (default "/health"), e.g. a mapping that checks more often.
  health?: string | Record<string, unknown>
  // Folders (relative to the home) each set watches; the stack then starts with --watch.
  watch?: Record<string, string[]>
}

export class BackendManager implements Tool {
  private readonly configFile: string
  readonly env: NodeJS.ProcessEnv

  constructor(
    readonly name: string,
    readonly home: string,
    private readonly stack: BmStack,
  ) {
    this.configFile = path.join(home, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`)
    this.env = { ...process.env, BACKEND_MANAGER_HOME: home }
  }

  async setup(): Promise<void> {
    fs.mkdirSync(this.home, { recursive: true })
    const servers = this.stack.sets.map((s) => ({
      name: s.name,
      command: s.argv,
      ...(s.basePort === undefined ? { health: 'none' } : { port: s.basePort, health: this.stack.health ?? '/health' }),
      instances: s.count,
      modules: this.stack.modules?.[s.name] ?? [],
      cwd: repoRoot,
      ...(s.env ? { env: s.env } : {}),
      ...(this.stack.watch?.[s.name] ? { watch: this.stack.watch[s.name] } : {}),
    }))
    const proxy =
      this.stack.proxyPort === undefined
        ? { type: 'none' }
        : { type: 'nginx', host: '127.0.0.1', port: this.stack.proxyPort }
    // JSON is YAML: no quoting rules to get wrong for paths.
    fs.writeFileSync(this.configFile, JSON.stringify({ proxy, servers }, null, 2) + '\n')
  }

  cli(args: string[], ok = [0]): Promise<RunResult> {
    return run(process.execPath, [path.join(repoRoot, 'bin', 'backend-manager.js'), ...args], { env: this.env, ok })
  }

  start = () => this.cli(['start', this.configFile, ...(this.stack.watch ? ['--watch'] : [])])
  stop = () => this.cli(['stop'])
  restart = () => this.cli(['restart', this.configFile])
  status = () => this.cli(['status', '--json'])

  state(): { supervisor: { pid: number }; processes: { id: string; pid: number; kind: string }[] } | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.home, 'run', 'state.json'), 'utf8'))
    } catch {
      return undefined
    }
  }

  async pids(): Promise<number[]> {
    return (this.state()?.processes ?? []).map((p) => p.pid)
  }

  async serverPids(): Promise<number[]> {
    return (this.state()?.processes ?? []).filter((p) => p.kind !== 'proxy').map((p) => p.pid)
  }

  daemonPid(): number | undefined {
    const pid = this.state()?.supervisor.pid
    return pid && pid > 0 ? pid : undefined
  }

  async teardown(): Promise<void> {
    if (!this.state()) return
    const pids = await this.pids()
    const supervisor = this.daemonPid()
    await this.cli(['stop'], [0, 1]).catch(() => undefined)
    // Only if stop itself failed: the recorded pids, never anything found by name.
    for (const pid of [...pids, ...(supervisor ? [supervisor] : [])]) if (pidAlive(pid)) killGroupOrPid(pid, 'SIGKILL')
  }
}

// ---------------------------------------------------------------- PM2

const pm2Bin = path.join(benchDir, 'node_modules', 'pm2', 'bin', 'pm2')

export class Pm2 implements Tool {
  readonly name = 'PM2'
  readonly env: NodeJS.ProcessEnv
  private readonly ecosystems = new Map<string, string>()
  private active = 'demo'

  constructor(
    readonly home: string,
    private readonly sets: ProcSet[],
  ) {
    // Its own PM2_HOME, so a user's real PM2 is never touched.
    this.env = { ...process.env, PM2_HOME: home }
  }

  static available(): boolean {
    return fs.existsSync(pm2Bin)
  }

  static version(): string {
    return JSON.parse(fs.readFileSync(path.join(benchDir, 'node_modules', 'pm2', 'package.json'), 'utf8')).version
  }

  cli(args: string[], ok = [0]): Promise<RunResult> {
    return run(process.execPath, [pm2Bin, ...args], { env: this.env, ok })
  }

  async setup(): Promise<void> {
    fs.mkdirSync(this.home, { recursive: true })
    for (const set of this.sets) {
      const apps = Array.from({ length: set.count }, (_, i) => ({
        name: `${set.name}-${i}`,
        script: set.argv[set.argv.length - 1],
        interpreter: set.argv[0],
        node_args: set.argv.slice(1, -1),
        cwd: repoRoot,
        exec_mode: 'fork',
        // As backend-manager's stop_timeout: SIGKILL only for a process that ignores the stop signal.
        kill_timeout: 3000,
        env: instanceEnv(set, i),
      }))
      const file = path.join(this.home, `${set.name}.ecosystem.config.cjs`)
      fs.writeFileSync(file, `module.exports = ${JSON.stringify({ apps }, null, 2)}\n`)
      this.ecosystems.set(set.name, file)
    }
    // Starts the daemon now, so no scenario pays for it.
    await this.cli(['ping'])
  }

  use(set: string): this {
    this.active = set
    return this
  }

  start = () => this.cli(['start', this.ecosystems.get(this.active)!])
  stop = () => this.cli(['delete', 'all'])
  restart = () => this.cli(['restart', 'all'])
  status = () => this.cli(['jlist'])

  async pids(): Promise<number[]> {
    const list = JSON.parse((await this.cli(['jlist'])).stdout.trim().split('\n').pop() ?? '[]') as { pid: number }[]
    return list.map((p) => p.pid).filter((p) => p > 0)
  }

  daemonPid(): number | undefined {
    try {
      return Number(fs.readFileSync(path.join(this.home, 'pm2.pid'), 'utf8').trim()) || undefined
    } catch {
      return undefined
    }
  }

  async teardown(): Promise<void> {
    const daemon = this.daemonPid()
    if (daemon === undefined || !pidAlive(daemon)) return
    const pids = await this.pids().catch(() => [])
    await this.cli(['kill'], [0, 1]).catch(() => undefined)
    await pollUntil('the PM2 daemon to exit', () => !pidAlive(daemon), 5000).catch(() => undefined)
    for (const pid of [...pids, daemon]) if (pidAlive(pid)) killGroupOrPid(pid, 'SIGKILL')
  }
}

// ---------------------------------------------------------------- supervisord

export class Supervisord implements Tool {
  readonly name = 'supervisord'
  private readonly conf: string
  private pid?: number
  private active = 'demo'

  constructor(
    readonly dir: string,
    private readonly sets: ProcSet[],
  ) {
    this.conf = path.join(dir, 'supervisord.conf')
  }

  static available(): boolean {
    return ['/usr/bin/supervisord', '/usr/local/bin/supervisord'].some((f) => fs.existsSync(f))
  }

  async setup(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true })
    const q = (v: string) => `"${v.replace(/"/g, '\\"')}"`
    const lines = [
      '[unix_http_server]',
      `file=${path.join(this.dir, 'supervisor.sock')}`,
      '[supervisord]',
      `logfile=${path.join(this.dir, 'supervisord.log')}`,
      `pidfile=${path.join(this.dir, 'supervisord.pid')}`,
      `childlogdir=${this.dir}`,
      'nodaemon=true',
      // Root needs no user switch here; the bench runs the servers as whoever runs it.
      ...(process.getuid?.() === 0 ? ['user=root'] : []),
      '[rpcinterface:supervisor]',
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
      '[supervisorctl]',
      `serverurl=unix://${path.join(this.dir, 'supervisor.sock')}`,
    ]
    for (const set of this.sets) {
      const names = Array.from({ length: set.count }, (_, i) => `${set.name}-${i}`)
      lines.push(`[group:${set.name}]`, `programs=${names.join(',')}`)
      names.forEach((name, i) => {
        const env = Object.entries(instanceEnv(set, i)).map(([k, v]) => `${k}=${q(v)}`)
        lines.push(
          `[program:${name}]`,
          `command=${set.argv.join(' ')}`,
          `directory=${repoRoot}`,
          `environment=${env.join(',')}`,
          'autostart=false',
          'autorestart=unexpected',
          // RUNNING as soon as spawned, like PM2; the default 1 s would only measure this setting.
          'startsecs=0',
          'stopsignal=TERM',
          'stopwaitsecs=3',
          'redirect_stderr=true',
          `stdout_logfile=${path.join(this.dir, `${name}.log`)}`,
        )
      })
    }
    fs.writeFileSync(this.conf, lines.join('\n') + '\n')
    const child = spawn('supervisord', ['-n', '-c', this.conf], { detached: true, stdio: 'ignore', cwd: this.dir })
    child.unref()
    this.pid = child.pid
    await pollUntil(
      'supervisord to answer',
      async () => (await this.ctl(['pid'], [0, 1, 2, 3, 4, 7]).catch(() => undefined))?.code === 0,
      15_000,
      50,
    )
  }

  ctl(args: string[], ok = [0]): Promise<RunResult> {
    return run('supervisorctl', ['-c', this.conf, ...args], { ok })
  }

  use(set: string): this {
    this.active = set
    return this
  }

  start = () => this.ctl(['start', `${this.active}:*`])
  stop = () => this.ctl(['stop', `${this.active}:*`])
  restart = () => this.ctl(['restart', `${this.active}:*`])
  status = () => this.ctl(['status', `${this.active}:*`])

  async pids(): Promise<number[]> {
    // `pid GROUP:*` is not supported; only one group runs at a time, and stopped ones print 0.
    const out = await this.ctl(['pid', 'all'], [0, 1, 2, 3])
    return out.stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 0)
  }

  daemonPid(): number | undefined {
    return this.pid
  }

  async teardown(): Promise<void> {
    const pid = this.pid
    if (pid === undefined || !pidAlive(pid)) return
    await this.ctl(['shutdown'], [0, 1, 2, 3, 4, 7]).catch(() => undefined)
    await pollUntil('supervisord to exit', () => !pidAlive(pid), 10_000, 20).catch(() => undefined)
    if (pidAlive(pid)) killGroupOrPid(pid, 'SIGKILL')
  }
}

// ---------------------------------------------------------------- the floor

// The bench itself spawns and signals the processes: what any manager adds is measured against this.
export class DirectSpawn implements Tool {
  readonly name = 'direct spawn (floor)'
  private running: number[] = []

  constructor(private readonly set: ProcSet) {}

  async setup(): Promise<void> {}

  async start(): Promise<RunResult> {
    const t0 = performance.now()
    this.running = Array.from({ length: this.set.count }, (_, i) => {
      const child = spawn(this.set.argv[0], this.set.argv.slice(1), {
        cwd: repoRoot,
        env: { ...process.env, ...instanceEnv(this.set, i) },
        detached: true,
        stdio: 'ignore',
      })
      child.unref()
      return child.pid!
    })
    return { code: 0, stdout: '', stderr: '', ms: performance.now() - t0 }
  }

  async stop(): Promise<RunResult> {
    const t0 = performance.now()
    for (const pid of this.running) killGroupOrPid(pid, 'SIGTERM')
    return { code: 0, stdout: '', stderr: '', ms: performance.now() - t0 }
  }

  async restart(): Promise<RunResult> {
    const t0 = performance.now()
    const old = this.running
    await this.stop()
    await pollUntil('the old processes to exit', () => old.every((p) => !pidAlive(p)), 10_000, 3)
    await this.start()
    return { code: 0, stdout: '', stderr: '', ms: performance.now() - t0 }
  }

  async status(): Promise<RunResult> {
    return { code: 0, stdout: '', stderr: '', ms: 0 }
  }

  async pids(): Promise<number[]> {
    return this.running.filter(pidAlive)
  }

  daemonPid(): number | undefined {
    return undefined
  }

  async teardown(): Promise<void> {
    for (const pid of this.running) if (pidAlive(pid)) killGroupOrPid(pid, 'SIGKILL')
    await sleep(0)
  }
}
