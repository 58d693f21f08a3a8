// The processes the proxy comparison runs itself: the backends (the demo server, uvicorn + FastAPI) and
// each proxy in front of them (the generated nginx, HAProxy, Caddy, a Node http-proxy), every one on
// 127.0.0.1 only, in its own process group, stopped by that recorded group and nothing else.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { configFromObject } from '../lib/config/load.ts'
import { resolveHome } from '../lib/core/home.ts'
import { findNginx, mimeTypesFor } from '../lib/proxy/nginx/install.ts'
import { nginxArgs, prepareNginxDirs, renderNginxConf } from '../lib/proxy/nginx/render.ts'
import { resolvePlan } from '../lib/config/plan.ts'
import { benchDir, childrenOf, pidAlive, pollUntil, repoRoot, sleep } from './common.ts'

// Debian's own python3: a pyenv or venv python3 first on PATH would not see python3-uvicorn.
export const DEBIAN_PYTHON = '/usr/bin/python3'

export interface Peer {
  name: string
  port: number
  // Spawns it and waits until `GET /health` through it answers 200.
  start(): Promise<void>
  // The pids whose CPU counts for it now (a master and its workers).
  pids(): number[]
  // Stops its process group, SIGKILL after a grace period; safe to call twice.
  stop(): Promise<void>
}

function answers(port: number, urlPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 1000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.once('timeout', () => req.destroy())
    req.once('error', () => resolve(false))
  })
}

// One spawned program in a new process group (detached), its output kept in a file for a failure message.
export class Spawned implements Peer {
  private pid?: number
  private exited = false

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly argv: string[],
    private readonly logFile: string,
    private readonly opts: { env?: NodeJS.ProcessEnv; cwd?: string; healthPath?: string } = {},
  ) {}

  async start(): Promise<void> {
    const out = fs.openSync(this.logFile, 'a')
    const child = spawn(this.argv[0], this.argv.slice(1), {
      cwd: this.opts.cwd ?? repoRoot,
      env: this.opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, out],
    })
    fs.closeSync(out)
    this.exited = false
    child.once('exit', () => (this.exited = true))
    child.once('error', () => (this.exited = true))
    child.unref()
    this.pid = child.pid
    const ready = async () => {
      if (this.exited)
        throw new Error(`${this.name} exited during start-up:\n${fs.readFileSync(this.logFile, 'utf8').slice(-2000)}`)
      return answers(this.port, this.opts.healthPath ?? '/health')
    }
    await pollUntil(`${this.name} to answer on 127.0.0.1:${this.port}`, ready, 30_000, 50)
  }

  pids(): number[] {
    if (this.pid === undefined || !pidAlive(this.pid)) return []
    return [this.pid, ...childrenOf(this.pid)]
  }

  async stop(): Promise<void> {
    const pid = this.pid
    if (pid === undefined) return
    this.pid = undefined
    signalGroup(pid, 'SIGTERM')
    await pollUntil(`${this.name} to exit`, () => !pidAlive(pid), 5000, 20).catch(() => undefined)
    // The group again, for workers a master left behind.
    signalGroup(pid, 'SIGKILL')
    await sleep(0)
  }
}

// Only the group it leads, never a bare pid, which may belong to another process once this one is gone.
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // The group is empty: everything in it exited.
  }
}

export interface Backend {
  name: string
  ports: number[]
  healthPath: string
}

// The generated nginx: the plan built from a config as `start` builds it, rendered by lib/proxy/nginx/render.ts
// with the same options and started with the same arguments; only `worker_processes` may be replaced.
export function generatedNginx(
  dir: string,
  port: number,
  backend: Backend,
  workers?: string,
): { peer: Peer; generatedWorkers: string; version: string } {
  const home = resolveHome({}, dir, dir)
  const config = configFromObject(
    {
      proxy: { type: 'nginx', host: '127.0.0.1', port },
      servers: [
        {
          name: backend.name,
          command: ['true'],
          port: backend.ports[0],
          instances: backend.ports.length,
          health: backend.healthPath,
        },
      ],
    },
    path.join(dir, 'bench.yaml'),
  )
  const nginx = findNginx(home, process.env)
  if (!nginx) throw new Error('nginx not found: run "make install" in the repository first')
  prepareNginxDirs(home)
  const generated = renderNginxConf(resolvePlan(config), home, { mimeTypes: mimeTypesFor(nginx.path) })
  const line = /^worker_processes\s+([^;\s]+);$/m
  const m = line.exec(generated)
  if (!m) throw new Error('the generated nginx.conf has no "worker_processes N;" line to compare variants with')
  fs.writeFileSync(
    home.nginxConf,
    workers === undefined ? generated : generated.replace(line, `worker_processes ${workers};`),
  )
  const argv = [nginx.path, ...nginxArgs(home, { version: nginx.version })]
  const peer = new Spawned(`nginx (worker_processes ${workers ?? m[1]})`, port, argv, path.join(dir, 'nginx.out'), {
    cwd: home.root,
  })
  return { peer, generatedWorkers: m[1], version: nginx.version ?? 'unknown' }
}

// HAProxy as its docs suggest for a keep-alive HTTP proxy: threads set, idle server connections reused
// by any client (`http-reuse always`, as nginx's upstream keepalive pool does), X-Forwarded-For added.
export function haproxy(dir: string, port: number, backend: Backend, threads: number): Peer {
  fs.mkdirSync(dir, { recursive: true })
  const conf = path.join(dir, 'haproxy.cfg')
  fs.writeFileSync(
    conf,
    [
      'global',
      `  nbthread ${threads}`,
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 65s',
      '  timeout server 300s',
      '  timeout http-keep-alive 65s',
      '  option http-keep-alive',
      '  option forwardfor',
      '  http-reuse always',
      'frontend front',
      `  bind 127.0.0.1:${port}`,
      '  default_backend servers',
      'backend servers',
      '  balance roundrobin',
      ...backend.ports.map((p, i) => `  server s${i} 127.0.0.1:${p} pool-max-conn 32`),
      '',
    ].join('\n'),
  )
  return new Spawned(
    `HAProxy (nbthread ${threads})`,
    port,
    [haproxyBin(), '-db', '-f', conf],
    path.join(dir, 'haproxy.out'),
  )
}

export function haproxyBin(): string {
  return fs.existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy'
}

// Caddy's reverse_proxy with its HTTP keep-alive pool sized like nginx's; no admin API, no HTTPS, no
// access log (Caddy logs none unless asked), its data and config folders kept in the bench's temp folder.
export function caddy(dir: string, port: number, backend: Backend): Peer {
  fs.mkdirSync(dir, { recursive: true })
  const conf = path.join(dir, 'Caddyfile')
  fs.writeFileSync(
    conf,
    [
      '{',
      '  admin off',
      '  auto_https off',
      '}',
      `http://127.0.0.1:${port} {`,
      '  bind 127.0.0.1',
      `  reverse_proxy ${backend.ports.map((p) => `127.0.0.1:${p}`).join(' ')} {`,
      '    lb_policy round_robin',
      '    transport http {',
      '      keepalive 65s',
      '      keepalive_idle_conns 64',
      '      keepalive_idle_conns_per_host 32',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  )
  const env = {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  }
  return new Spawned(
    'Caddy',
    port,
    ['caddy', 'run', '--config', conf, '--adapter', 'caddyfile'],
    path.join(dir, 'caddy.out'),
    { env, cwd: dir },
  )
}

// A tiny proxy on the http-proxy npm package, as a Node shop would write it (one process, keep-alive agent).
export function nodeHttpProxy(dir: string, port: number, backend: Backend): Peer {
  fs.mkdirSync(dir, { recursive: true })
  const env = {
    ...process.env,
    PORT: String(port),
    TARGETS: backend.ports.map((p) => `http://127.0.0.1:${p}`).join(','),
  }
  return new Spawned(
    'Node http-proxy',
    port,
    [process.execPath, path.join(benchDir, 'node-proxy.mjs')],
    path.join(dir, 'node-proxy.out'),
    { env },
  )
}

export function demoServer(dir: string, argv: string[], name: string, port: number, instance: number): Peer {
  fs.mkdirSync(dir, { recursive: true })
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', SERVER_NAME: name, INSTANCE: String(instance) }
  return new Spawned(`${name}-${instance}`, port, argv, path.join(dir, `${name}-${instance}.out`), { env })
}

// One uvicorn process serving bench/fastapi_app.py, as `uvicorn app:app` runs it (no access log, as in production).
export function uvicorn(dir: string, port: number): Peer {
  fs.mkdirSync(dir, { recursive: true })
  const argv = [
    DEBIAN_PYTHON,
    '-m',
    'uvicorn',
    'fastapi_app:app',
    '--app-dir',
    benchDir,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--no-access-log',
  ]
  return new Spawned('uvicorn', port, argv, path.join(dir, 'uvicorn.out'), {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  })
}

export function available(what: 'haproxy' | 'caddy' | 'uvicorn' | 'http-proxy'): boolean {
  if (what === 'http-proxy') return fs.existsSync(path.join(benchDir, 'node_modules', 'http-proxy'))
  if (what === 'uvicorn')
    return spawnSync(DEBIAN_PYTHON, ['-c', 'import uvicorn, fastapi'], { stdio: 'ignore' }).status === 0
  return (
    spawnSync(what === 'haproxy' ? haproxyBin() : 'caddy', [what === 'haproxy' ? '-v' : 'version'], { stdio: 'ignore' })
      .status === 0
  )
}

export function versionOf(what: 'haproxy' | 'caddy' | 'uvicorn' | 'http-proxy'): string {
  if (what === 'http-proxy')
    return JSON.parse(fs.readFileSync(path.join(benchDir, 'node_modules', 'http-proxy', 'package.json'), 'utf8'))
      .version
  if (what === 'uvicorn') {
    const r = spawnSync(
      DEBIAN_PYTHON,
      ['-c', 'import uvicorn, fastapi; print(uvicorn.__version__, fastapi.__version__)'],
      { encoding: 'utf8' },
    )
    const [u, f] = r.stdout.trim().split(' ')
    return `uvicorn ${u}, FastAPI ${f}`
  }
  const r = spawnSync(what === 'haproxy' ? haproxyBin() : 'caddy', [what === 'haproxy' ? '-v' : 'version'], {
    encoding: 'utf8',
  })
  return (/(?:version )?v?(\d+\.\d+\.\d+\S*)/.exec(r.stdout) ?? [])[1] ?? 'unknown'
}
