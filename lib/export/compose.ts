// The stack as a docker compose project: a service per server instance (a portless worker whose instances differ
// in nothing but INSTANCE: one service with replicas), the generated nginx in front. Pure: files as text.
import path from 'node:path'
import { createRequire } from 'node:module'
import { BackendManagerError } from '../core/errors.ts'
import { homeAt } from '../core/home.ts'
import { bareHost } from '../os/hosts.ts'
import { readEnvFile } from '../config/env-file.ts'
import { proxyListeners, shellQuote, type Plan, type ProcessSpec } from '../config/plan.ts'
import type { ServerConfig } from '../config/types.ts'
import { nginxPaths, renderNginxConf } from '../proxy/nginx/render.ts'

export interface ComposeOptions {
  // The folder compose.yaml is written into (absolute): paths in it are relative to it, as compose reads them.
  dir: string
}

// Each env_file's values by its absolute path: what compose reads itself, so they are not copied into environment.
export type EnvFileValues = Record<string, Record<string, string>>

const NGINX_IMAGE = 'nginx:stable'
const NGINX_CONF = '/etc/nginx/backend-manager.conf'
// The generated nginx's pid, logs and temp folders inside its container.
const NGINX_HOME = homeAt('/var/lib/backend-manager')
// Where the Dockerfile of a build placeholder puts the server's folder (its cwd).
const APP_DIR = '/app'
const RESTART = { no: 'no', 'on-failure': 'on-failure', always: 'always' } as const

// One compose service: a server's instance, or all its instances as replicas.
interface Unit {
  service: string
  server: ServerConfig
  spec: ProcessSpec
  replicas?: number
}

type Service = Record<string, unknown>
// A YAML comment to put above a key of a service.
type Note = { service: string; key: string; text: string }

// The env files' values, read now: the one impure step, kept out of the rendering.
export function readEnvFiles(plan: Plan): EnvFileValues {
  const files = (plan.servers ?? []).flatMap((s) => s.env_file ?? [])
  return Object.fromEntries(files.map((f) => [f, readEnvFile(f).values]))
}

// Instances that differ in nothing but INSTANCE, which none of them reads: one service, scaled by compose.
function asReplicas(server: ServerConfig, specs: ProcessSpec[]): boolean {
  if (server.port !== undefined || server.kind === 'task' || specs.length < 2) return false
  const shape = (p: ProcessSpec) => JSON.stringify([p.argv, { ...p.env, INSTANCE: '' }, p.health])
  const reads = /INSTANCE/.test(JSON.stringify([specs[0].argv, specs[0].health, server.env]))
  return !reads && specs.every((p) => shape(p) === shape(specs[0]))
}

function unitsOf(plan: Plan): Unit[] {
  return (plan.servers ?? []).flatMap((server) => {
    const specs = plan.processes.filter((p) => p.server === server.name)
    if (asReplicas(server, specs)) return [{ service: server.name, server, spec: specs[0], replicas: specs.length }]
    return specs.map((spec) => ({ service: specs.length === 1 ? server.name : spec.id, server, spec }))
  })
}

// A path as compose reads it: relative to the project folder, "./" first so a volume is not taken for a name.
function relative(dir: string, to: string): string {
  const rel = path.relative(dir, to) || '.'
  return rel.startsWith('.') || path.isAbsolute(rel) ? rel : `./${rel}`
}

// Compose durations: whole seconds as "5s", anything finer in milliseconds.
const duration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`)

// "[::1]:8000:8000" for IPv6, "127.0.0.1:8000:8000" otherwise: published on the address the manager binds.
function published(host: string, port: number): string {
  const bare = bareHost(host)
  return `${bare.includes(':') ? `[${bare}]` : bare}:${port}:${port}`
}

function healthcheck(unit: Unit, notes: Note[]): Service | undefined {
  const { spec, server, service } = unit
  const h = spec.health
  if (!h || spec.task) return undefined
  let test: string[]
  const check = h.check
  if (check.kind === 'command')
    test = Array.isArray(server.liveness.check) ? ['CMD', ...check.argv] : ['CMD-SHELL', check.command]
  else if (spec.port === undefined || check.kind === 'none') return undefined
  else if (check.kind === 'http') {
    const url = shellQuote(`http://127.0.0.1:${spec.port}${check.path}`)
    test = ['CMD-SHELL', `curl -fsS -o /dev/null ${url} || wget -q -O /dev/null ${url}`]
    notes.push({
      service,
      key: 'healthcheck',
      text: `GET ${check.path} with curl, else wget: the image needs one of them`,
    })
  } else {
    test = ['CMD', 'bash', '-c', `: </dev/tcp/127.0.0.1/${spec.port}`]
    const grpc = check.kind === 'grpc' ? ' (the gRPC health service is not asked)' : ''
    notes.push({ service, key: 'healthcheck', text: `A TCP connect${grpc} through bash: the image needs bash` })
  }
  return {
    test,
    interval: duration(h.intervalMs),
    timeout: duration(h.timeoutMs),
    retries: h.retries,
    start_period: duration(h.startPeriodMs),
  }
}

// What the manager sets, with HOST for a container; what an env_file holds as it is, compose reads from the file.
function environment(unit: Unit, files: EnvFileValues): Record<string, string> {
  const env: Record<string, string> = { ...unit.spec.env, HOST: '0.0.0.0' }
  if (unit.replicas) delete env.INSTANCE
  for (const file of unit.server.env_file ?? [])
    for (const [k, v] of Object.entries(files[file] ?? {})) if (env[k] === v) delete env[k]
  return env
}

function dependsOn(servers: string[], units: Unit[], checked: Set<string>): Service | undefined {
  const deps = units.filter((u) => servers.includes(u.server.name))
  if (deps.length === 0) return undefined
  const condition = (u: Unit) =>
    u.server.kind === 'task'
      ? 'service_completed_successfully'
      : checked.has(u.service)
        ? 'service_healthy'
        : 'service_started'
  return Object.fromEntries(deps.map((u) => [u.service, { condition: condition(u) }]))
}

function serverService(unit: Unit, plan: Plan, opts: ComposeOptions, files: EnvFileValues, notes: Note[]): Service {
  const { server, spec } = unit
  const body: Service = {}
  if (server.image) body.image = server.image
  else {
    body.build = { context: relative(opts.dir, server.cwd) }
    notes.push({
      service: unit.service,
      key: 'build',
      text:
        `No image: for ${server.name} in the config. Write a Dockerfile in this folder that copies it to ${APP_DIR}\n` +
        'and installs what the command needs, or set image: for the server in the config.',
    })
  }
  body.command = spec.argv
  if (!server.image) body.working_dir = APP_DIR
  if (server.env_file?.length) body.env_file = server.env_file.map((f) => relative(opts.dir, f))
  body.environment = environment(unit, files)
  if (spec.port !== undefined && (!server.behind_proxy || plan.proxy.type === 'none'))
    body.ports = [published(server.host, spec.port)]
  return body
}

function nginxService(plan: Plan, behind: Unit[], checked: Set<string>): Service {
  const paths = nginxPaths(NGINX_HOME)
  const ports = proxyListeners(plan.proxy, plan.upstreams)
  // Its log files are the container's stdout and stderr; nginx makes only the last folder of each temp path.
  const script = [
    `mkdir -p ${[NGINX_HOME.logs, path.dirname(paths.temp.proxy)].map(shellQuote).join(' ')}`,
    `ln -sf /dev/stdout ${shellQuote(paths.accessLog)}`,
    `ln -sf /dev/stderr ${shellQuote(paths.errorLog)}`,
    `exec nginx -c ${NGINX_CONF}`,
  ].join(' && ')
  return {
    image: NGINX_IMAGE,
    command: ['sh', '-c', script],
    volumes: [`./nginx/nginx.conf:${NGINX_CONF}:ro`],
    ports: [ports.http, ports.grpc].filter((p) => p !== undefined).map((p) => published(plan.proxy.host, p)),
    depends_on: dependsOn(
      plan.upstreams.map((u) => u.name),
      behind,
      checked,
    ),
    restart: 'on-failure',
  }
}

// Compose reads "$NAME" in every value as its own variable: a literal "$" is "$$".
function escapeDollars(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\$/g, '$$$$')
  if (Array.isArray(value)) return value.map(escapeDollars)
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeDollars(v)]))
  return value
}

function refuseClash(services: string[], file: string): void {
  const seen = new Set<string>()
  for (const s of services) {
    if (seen.has(s))
      throw new BackendManagerError(
        'CONFIG',
        `export compose: two services would be named "${s}" (a server's name, or NAME-INSTANCE of a server with` +
          ` several instances, or nginx for the proxy); expected distinct names, rename a server in ${file}`,
      )
    seen.add(s)
  }
}

export function renderCompose(plan: Plan, opts: ComposeOptions, files: EnvFileValues = {}): Record<string, string> {
  const units = unitsOf(plan)
  const proxied = plan.proxy.type !== 'none' && plan.upstreams.length > 0
  refuseClash([...units.map((u) => u.service), ...(proxied ? ['nginx'] : [])], plan.file)
  const notes: Note[] = []
  const services: Record<string, Service> = {}
  const checks = new Map(units.map((u) => [u.service, healthcheck(u, notes)]))
  const checked = new Set([...checks].filter(([, c]) => c).map(([s]) => s))
  for (const unit of units) {
    const { server, spec } = unit
    const body = serverService(unit, plan, opts, files, notes)
    const deps = dependsOn(server.depends_on, units, checked)
    if (deps) body.depends_on = deps
    if (checks.get(unit.service)) body.healthcheck = checks.get(unit.service)
    body.restart = server.kind === 'task' ? 'no' : RESTART[server.restart]
    body.stop_grace_period = duration(spec.stopTimeoutMs)
    if (spec.maxMemoryBytes !== undefined) body.mem_limit = spec.maxMemoryBytes
    if (unit.replicas) body.deploy = { replicas: unit.replicas }
    services[unit.service] = body
  }
  const out: Record<string, string> = {}
  if (proxied) {
    const behind = units.filter((u) => plan.upstreams.some((up) => up.name === u.server.name))
    const host = new Map(behind.map((u) => [`${u.server.name}-${u.spec.instance}`, u.service]))
    services.nginx = nginxService(plan, behind, checked)
    // Listening on every address of its own container; the servers are reached by their service names.
    const inside = { ...plan, proxy: { ...plan.proxy, host: '0.0.0.0' } }
    out['nginx/nginx.conf'] = renderNginxConf(inside, NGINX_HOME, {
      user: null,
      mimeTypes: '/etc/nginx/mime.types',
      instanceHost: (name, i) => host.get(`${name}-${i}`)!,
    })
  }
  out['compose.yaml'] = emit(services, notes, path.basename(plan.file), proxied)
  return out
}

// zx (for its YAML emitter) is loaded only when a project is written. Strings double-quoted: nothing from the
// config is read as YAML syntax. Service names are plain tokens (the config's NAME_PATTERN), written as they are.
function stringify(value: unknown): string {
  const { YAML } = createRequire(import.meta.url)('zx') as typeof import('zx')
  const options = { lineWidth: 0, defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' }
  return (YAML.stringify as (value: unknown, options: object) => string)(value, options)
}

function emit(services: Record<string, Service>, notes: Note[], configName: string, proxied: boolean): string {
  const name = configName.replace(/[\r\n]/g, ' ')
  const lines = [
    `# Generated by backend-manager export compose from ${name}; export again after changing the config.`,
    `# One service per server instance (NAME-INSTANCE when a server has several), a portless worker as replicas${
      proxied
        ? ',\n# and the generated nginx (nginx/nginx.conf) in front, published on the address the config binds.'
        : '.'
    }`,
    '# Start: docker compose -f compose.yaml up',
    'services:',
  ]
  for (const [service, body] of Object.entries(services)) {
    lines.push(`  ${service}:`)
    for (const line of stringify(escapeDollars(body)).trimEnd().split('\n')) {
      const key = /^([a-z_]+):/.exec(line)?.[1]
      const note = notes.find((n) => n.service === service && n.key === key)
      if (note) lines.push(...note.text.split('\n').map((t) => `    # ${t}`))
      lines.push(`    ${line}`)
    }
  }
  return `${lines.join('\n')}\n`
}
