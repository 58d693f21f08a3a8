// The plan: a config resolved into processes (command, port, environment) in start order, upstreams and routes.
import type { Config, LogsConfig, Protocol, ProxyConfig, RestartPolicy, ServerConfig, WatchConfig } from './types.ts'
import { BackendManagerError } from '../core/errors.ts'
import { bareHost, connectHost } from '../os/hosts.ts'
import { didYouMean } from './schema.ts'
import { servingNames } from './layout.ts'

// grpc: the standard grpc.health.v1 Check, or TCP when the server has no health service.
export type Readiness = { kind: 'http'; path: string } | { kind: 'tcp' } | { kind: 'grpc' } | { kind: 'none' }

// What is checked after ready: a probe, or a command whose exit 0 means healthy.
export type HealthCheck = Readiness | { kind: 'command'; argv: string[]; command: string }

export interface HealthSpec {
  check: HealthCheck
  intervalMs: number
  timeoutMs: number
  retries: number
  startPeriodMs: number
}

// One OS process the supervisor runs: an instance of a server.
export interface ProcessSpec {
  id: string
  server: string
  instance: number
  port?: number
  host: string
  argv: string[]
  command: string
  cwd: string
  // Only what the manager adds to (or overrides in) the inherited environment.
  env: Record<string, string>
  readiness: Readiness
  readyTimeoutMs: number
  stopTimeoutMs: number
  restart: RestartPolicy
  maxRestarts: number
  dependsOn: string[]
  protocol: Protocol
  // Runs to completion (kind: task): ready once it exited 0, then `completed`; never restarted, never behind the proxy.
  task?: true
  // Checked every interval once ready (absent for `none`, and in plans saved before it existed).
  health?: HealthSpec
  maxMemoryBytes?: number
  // What `start --watch` restarts it (a task: runs it again) on, and what a task's run restarts after it.
  watch?: WatchConfig
  thenRestart?: string[]
}

export interface Upstream {
  name: string
  // The server's HTTP health path, probed through the proxy by `health`.
  healthPath?: string
  host: string
  ports: number[]
  protocol: Protocol
}

export interface Route {
  path: string
  upstream: string
  websocket: boolean
}

export interface Plan {
  file: string
  // The config file's absolute path, set by start: restart and a later start find it from any folder.
  configPath?: string
  proxy: ProxyConfig
  logs: LogsConfig
  // In start order: dependencies first, config order otherwise.
  processes: ProcessSpec[]
  upstreams: Upstream[]
  routes: Route[]
  // The servers as the config resolved them (start order): what a scale resolves new instances from.
  servers?: ServerConfig[]
  // Servers scaled to another count than their config's: that count, so a start of the same config keeps the scale.
  scaled?: Record<string, number>
  // What restart and apply read the config with again: start's ${VAR} values from its environment, its port offset.
  variables?: Record<string, string | null>
  portOffset?: number
  // on_failure: stop-all (absent: keep running).
  onFailure?: 'stop-all'
  // after_stop: its commands and the config's folder, where they run.
  afterStop?: { commands: string[]; cwd: string }
  // Started with --watch: the servers' `watch:` is acted on, also by a supervisor that takes the stack over.
  watch?: true
  // The single layout (absent: multi), kept so restart, apply and a supervisor that takes over run it too; the
  // servers whose modules the root server `into` serves.
  layout?: 'single'
  folded?: { into: string; servers: string[] }
}

// The spec of the process with this id (server-instance); undefined for the proxy, which the plan does not list.
export function specOf(plan: Plan, id: string): ProcessSpec | undefined {
  return plan.processes.find((p) => p.id === id)
}

export function instanceId(server: string, instance: number): string {
  return `${server}-${instance}`
}

// An argument as a shell would need it, so a list command shown as one line reads unambiguously.
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

// A key only when it has a value, so plans (and the state file) stay as they were for servers without it.
const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>

function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\{(port|instance|name)\}/g, (_, key: string) => values[key])
}

// A plain command runs as `exec COMMAND`, so the recorded pid is the server itself rather than a shell.
// Anything with shell syntax (lists, pipes, substitutions, leading assignments) keeps its shell.
export function shellArgv(command: string): string[] {
  const simple =
    !/[;&|`$()<>\n]/.test(command) && !/^\s*[A-Za-z_][A-Za-z0-9_]*=/.test(command) && !/^\s*exec\s/.test(command)
  return ['/bin/sh', '-c', simple ? `exec ${command}` : command]
}

// An HTTP GET means nothing to a gRPC server: it is asked through the gRPC health service instead.
function readinessOf(server: ServerConfig): Readiness {
  if (server.health === 'none') return { kind: 'none' }
  if (server.protocol === 'grpc') return { kind: 'grpc' }
  if (server.health === 'tcp') return { kind: 'tcp' }
  return { kind: 'http', path: server.health }
}

// The health mapping resolved for one instance: {port} {instance} {name} in a command check, as in `command`.
function healthSpecOf(server: ServerConfig, values: Record<string, string>): HealthSpec | undefined {
  const { check, interval, timeout, retries, start_period } = server.liveness
  const timing = { intervalMs: interval * 1000, timeoutMs: timeout * 1000, retries, startPeriodMs: start_period * 1000 }
  if (check === 'none') return undefined
  if (Array.isArray(check)) {
    const argv = check.map((arg) => substitute(arg, values))
    return { check: { kind: 'command', argv, command: argv.map(shellQuote).join(' ') }, ...timing }
  }
  if (check.startsWith('/') || check === 'tcp') return { check: readinessOf({ ...server, health: check }), ...timing }
  const command = substitute(check, values)
  return { check: { kind: 'command', argv: shellArgv(command), command }, ...timing }
}

// The proxy's front ports: HTTP/1.1 on proxy.port, and cleartext HTTP/2 on proxy.grpc_port when a
// gRPC server is behind it. A stack of gRPC servers only has no HTTP listener at all.
export function proxyListeners(proxy: ProxyConfig, routed: { protocol: Protocol }[]): { http?: number; grpc?: number } {
  if (proxy.type === 'none') return {}
  const grpc = routed.some((u) => u.protocol === 'grpc')
  const http = !grpc || routed.some((u) => u.protocol === 'http')
  return { ...(http ? { http: proxy.port } : {}), ...(grpc ? { grpc: proxy.grpc_port } : {}) }
}

// Servers ordered so each comes after what it depends on; ties keep config order.
export function startOrder(servers: ServerConfig[]): ServerConfig[] {
  const done = new Set<string>()
  const ordered: ServerConfig[] = []
  while (ordered.length < servers.length) {
    const next = servers.find((s) => !done.has(s.name) && s.depends_on.every((d) => done.has(d)))
    if (!next) throw new BackendManagerError('CONFIG', 'dependency cycle among servers')
    done.add(next.name)
    ordered.push(next)
  }
  return ordered
}

// The servers named by --only, plus everything they depend on.
export function selectServers(servers: ServerConfig[], only: string[] | undefined, file: string): ServerConfig[] {
  if (only === undefined) return servers
  const known = servers.map((s) => s.name).join(', ')
  if (only.length === 0)
    throw new BackendManagerError(
      'USAGE',
      `--only: no server named, expected a comma list of servers from ${file}: ${known}`,
    )
  const byName = new Map(servers.map((s) => [s.name, s]))
  const wanted = new Set<string>()
  const add = (name: string) => {
    if (wanted.has(name)) return
    wanted.add(name)
    byName.get(name)!.depends_on.forEach(add)
  }
  for (const name of only) {
    if (!byName.has(name))
      throw new BackendManagerError(
        'USAGE',
        `--only: unknown server ${JSON.stringify(name)}${didYouMean(name, [...byName.keys()])}` +
          `, expected one of the servers in ${file}: ${known}`,
      )
    add(name)
  }
  return servers.filter((s) => wanted.has(s.name))
}

export function resolveProcesses(server: ServerConfig, proxy: ProxyConfig): ProcessSpec[] {
  return Array.from({ length: server.instances }, (_, instance) => {
    const port = server.port === undefined ? undefined : server.port + instance
    const values = { port: String(port ?? ''), instance: String(instance), name: server.name }
    const argv = Array.isArray(server.command)
      ? server.command.map((arg) => substitute(arg, values))
      : shellArgv(substitute(server.command, values))
    const env: Record<string, string> = {
      ...Object.fromEntries(Object.entries(server.env).map(([k, v]) => [k, substitute(v, values)])),
      HOST: bareHost(server.host),
      SERVER_NAME: server.name,
      INSTANCE: String(instance),
      ENABLED_MODULES: server.modules.join(','),
      API_PREFIX: proxy.api_prefix,
    }
    if (port !== undefined) env.PORT = String(port)
    // Python buffers stdout going to a file until it exits; the log should show lines as they are printed.
    if (!Object.hasOwn(server.env, 'PYTHONUNBUFFERED')) env.PYTHONUNBUFFERED = '1'
    return {
      id: instanceId(server.name, instance),
      server: server.name,
      instance,
      port,
      host: server.host,
      argv,
      command: Array.isArray(server.command) ? argv.map(shellQuote).join(' ') : substitute(server.command, values),
      cwd: server.cwd,
      env,
      readiness: readinessOf(server),
      readyTimeoutMs: server.ready_timeout * 1000,
      stopTimeoutMs: server.stop_timeout * 1000,
      restart: server.restart,
      maxRestarts: server.max_restarts,
      dependsOn: server.depends_on,
      protocol: server.protocol,
      ...(server.kind === 'task' ? { task: true as const } : {}),
      ...optional('health', healthSpecOf(server, values)),
      ...optional('maxMemoryBytes', server.max_memory),
      ...(server.watch ? { watch: server.watch } : {}),
      ...(server.then_restart ? { thenRestart: server.then_restart } : {}),
    }
  })
}

export function resolveRoutes(servers: ServerConfig[], proxy: ProxyConfig): { upstreams: Upstream[]; routes: Route[] } {
  const routed = servers.filter((s) => s.port !== undefined && s.behind_proxy)
  const upstreams = routed.map((s) => ({
    name: s.name,
    ...(s.health.startsWith('/') ? { healthPath: s.health } : {}),
    host: connectHost(s.host),
    ports: Array.from({ length: s.instances }, (_, i) => s.port! + i),
    protocol: s.protocol,
  }))
  const routes: Route[] = []
  for (const s of routed.filter((r) => r.protocol === 'http')) {
    for (const m of s.modules) {
      routes.push({ path: `${proxy.api_prefix}/${m}/ws`, upstream: s.name, websocket: true })
      routes.push({ path: `${proxy.api_prefix}/${m}/`, upstream: s.name, websocket: false })
    }
  }
  const root = routed.find((s) => s.modules.length === 0 && s.protocol === 'http')
  if (root) routes.push({ path: '/', upstream: root.name, websocket: false })
  return { upstreams, routes }
}

export function resolvePlan(config: Config, only?: string[]): Plan {
  // In the single layout a folded server is served by the root: --only it means the root.
  const servers = startOrder(selectServers(config.servers, servingNames(config, only), config.file))
  const routing = resolveRoutes(servers, config.proxy)
  // A proxy with nothing behind it (say --only worker) would only answer 404s: none is started.
  const proxy: ProxyConfig = routing.upstreams.length === 0 ? { ...config.proxy, type: 'none' } : config.proxy
  return {
    file: config.file,
    proxy,
    logs: config.logs,
    processes: servers.flatMap((s) => resolveProcesses(s, config.proxy)),
    ...routing,
    servers,
    ...(config.variables ? { variables: config.variables } : {}),
    ...(config.portOffset ? { portOffset: config.portOffset } : {}),
    ...(config.on_failure === 'stop-all' ? { onFailure: 'stop-all' as const } : {}),
    ...(config.after_stop.length ? { afterStop: { commands: config.after_stop, cwd: config.dir } } : {}),
    ...(config.layout === 'single' ? { layout: 'single' as const, ...optional('folded', config.folded) } : {}),
  }
}
