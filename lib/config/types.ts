// What a loaded config is, once shape-checked and defaulted: the types every layer above reads, and the defaults.
// A leaf module: it imports nothing, so the config's loader, validators and plan never import each other in a circle.

export type ProxyType = 'nginx' | 'envoy' | 'none'
export type RestartPolicy = 'no' | 'on-failure' | 'always'
export type Protocol = 'http' | 'grpc'
// task: runs to completion (a migration, a code generator); its dependents start once it exited 0.
export type ServerKind = 'server' | 'task'

export interface ProxyConfig {
  type: ProxyType
  host: string
  port: number
  routing_strategy: 'path'
  api_prefix: string
  admin_port: number
  grpc_port: number
}

export interface ServerConfig {
  name: string
  // A string runs through /bin/sh; a list runs directly with no shell.
  command: string | string[]
  port?: number
  host: string
  instances: number
  modules: string[]
  // How readiness is checked: an HTTP path, 'tcp' or 'none' (a command check in the health mapping waits for tcp/none).
  health: string
  // After ready: what is checked, how often, and after how many failures in a row the instance is restarted.
  liveness: HealthConfig
  // Bytes of RSS (the whole process tree) it may stay above for a few samples before it is restarted.
  max_memory?: number
  env: Record<string, string>
  // dotenv files (absolute paths) whose values env gets under its own; env wins.
  env_file?: string[]
  cwd: string
  ready_timeout: number
  stop_timeout: number
  restart: RestartPolicy
  max_restarts: number
  depends_on: string[]
  protocol: Protocol
  // false keeps a server with a port (a database, a cache) out of the proxy's upstreams and routes.
  behind_proxy: boolean
  kind: ServerKind
  // With `start --watch`: a change to these files restarts it (a task: runs it again).
  watch?: WatchConfig
  // A task with `watch:`: servers restarted (rolling) after each run on a change that succeeded.
  then_restart?: string[]
  // The container image exports run it from; without one they leave a build placeholder.
  image?: string
}

// The health mapping, in seconds; `check` is an HTTP path, 'tcp', 'none' or a command (a list runs without a shell).
export interface HealthConfig {
  check: string | string[]
  interval: number
  timeout: number
  retries: number
  // Failures this soon after a spawn do not count until a check has passed; defaults to ready_timeout.
  start_period: number
}

export const healthDefaults = { interval: 5, timeout: 2, retries: 3 }
export interface WatchConfig {
  // The folder the paths and ignores are relative to: the config file's.
  root: string
  paths: string[]
  ignore: string[]
  // Milliseconds without a further change before it acts.
  debounce: number
}

export const WATCH_DEBOUNCE_MS = 300

export interface LogsConfig {
  // Bytes after which a per-process log file is rotated; 0 disables rotation.
  max_size: number
  keep: number
}

// stop-all: a server that fails for good (no restart left) stops the whole stack.
export type FailurePolicy = 'keep-running' | 'stop-all'
// multi: a process per server instance behind the proxy; single: one process with every module, no proxy.
export type Layout = 'multi' | 'single'

export interface Config {
  file: string
  dir: string
  proxy: ProxyConfig
  servers: ServerConfig[]
  logs: LogsConfig
  // Each ${VAR} with its value in the environment (null: not set there), so a later read sees the same values.
  variables?: Record<string, string | null>
  // --port-offset: already added to every port above.
  portOffset?: number
  on_failure: FailurePolicy
  layout: Layout
  // The single layout: the servers whose modules the root server `into` serves (they are not in `servers`).
  folded?: { into: string; servers: string[] }
  // Shell commands run one after the other, in the config's folder, once a stop is complete.
  after_stop: string[]
}

export const proxyDefaults: ProxyConfig = {
  type: 'nginx',
  host: '127.0.0.1',
  port: 8000,
  routing_strategy: 'path',
  api_prefix: '/api/v1',
  admin_port: 9901,
  grpc_port: 50051,
}

export const logsDefaults: LogsConfig = { max_size: 50 * 1024 * 1024, keep: 3 }
