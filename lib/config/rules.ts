// The config's keys as data: each key's type, range, what a valid value looks like and what it is for.
// The shape check (schema.ts) and the JSON Schema (json-schema.ts) both read these tables, so they never drift.
// description: one line for editors and the JSON Schema; expect: what a valid value looks like, for errors.
export type Rule = { expect?: string; required?: boolean; description?: string } & (
  | { kind: 'string' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'enum'; values: string[] }
  | { kind: 'list' }
  | { kind: 'bool' }
  | { kind: 'map' }
  | { kind: 'command' }
  | { kind: 'object'; schema: Schema }
  | { kind: 'list-or-object'; schema: Schema }
  | { kind: 'servers' }
  | { kind: 'paths' }
  | { kind: 'commands' }
  // A string, or a mapping checked against its schema (the health mapping).
  | { kind: 'stringOrObject'; schema: Schema }
  | { kind: 'size' }
)

export type Schema = Record<string, Rule>

const port: Rule = { kind: 'int', min: 1, max: 65535, expect: 'a port number from 1 to 65535' }
const seconds = (min: number): Rule => ({
  kind: 'number',
  min,
  max: 3600,
  expect: `a number of seconds from ${min} to 3600`,
})

const proxySchema: Schema = {
  type: { kind: 'enum', values: ['nginx', 'envoy', 'none'], description: 'which proxy runs in front of the servers' },
  host: { kind: 'string', expect: 'a host name or IP address', description: 'where the proxy listens' },
  port: { ...port, description: 'the port the proxy listens on' },
  routing_strategy: { kind: 'enum', values: ['path'], description: 'how requests are routed to servers' },
  api_prefix: { kind: 'string', expect: 'a URL path like "/api/v1"', description: 'the path routes start with' },
  admin_port: { ...port, description: "Envoy's admin API port (type: envoy only)" },
  grpc_port: { ...port, description: 'the HTTP/2 front port for gRPC servers' },
}

const healthSchema: Schema = {
  check: {
    kind: 'command',
    required: true,
    expect: 'an HTTP path like "/health", "tcp", "none" or a command',
    description: 'what is checked: an HTTP path, tcp, none, or a command whose exit 0 means healthy',
  },
  interval: { ...seconds(0.1), description: 'seconds between checks once ready' },
  timeout: { ...seconds(0.1), description: 'seconds before one check fails' },
  retries: { kind: 'int', min: 1, max: 1000, description: 'failures in a row that restart the instance' },
  start_period: { ...seconds(0), description: 'seconds after a spawn in which failures do not count' },
}

const watchSchema: Schema = {
  paths: {
    kind: 'list',
    required: true,
    expect: 'a list of paths or globs, relative to the config file',
    description: 'files and folders watched',
  },
  ignore: { kind: 'list', expect: 'a list of names or globs to leave out', description: 'what is not watched' },
  debounce: {
    kind: 'int',
    min: 0,
    max: 60_000,
    expect: 'milliseconds from 0 to 60000',
    description: 'milliseconds of quiet before a change acts',
  },
}

export const serverSchema: Schema = {
  name: {
    kind: 'string',
    required: true,
    expect: 'a server name (lowercase letters, digits, "-" and "_")',
    description: 'the server name, unique in the config',
  },
  command: {
    kind: 'command',
    required: true,
    expect: 'a command string or a non-empty list of arguments',
    description: 'what to run: a string runs through /bin/sh, a list runs directly',
  },
  port: { ...port, description: 'the first port; instance i listens on port + i' },
  host: {
    kind: 'string',
    expect: 'a host name or IP address',
    description: 'the address the server binds (passed as HOST)',
  },
  instances: { kind: 'int', min: 1, max: 256, description: 'how many copies to run, on consecutive ports' },
  modules: {
    kind: 'list',
    expect: 'a list of module names',
    description: 'module names routed to this server; the one server without modules gets "/"',
  },
  health: {
    kind: 'stringOrObject',
    schema: healthSchema,
    expect:
      'an HTTP path like "/health", "tcp", "none" or a mapping with check, interval, timeout, retries, start_period',
    description: 'readiness and health check: an HTTP path, tcp, none, or a mapping with a check and its timings',
  },
  env: { kind: 'map', expect: 'a mapping of NAME: value', description: 'extra environment variables' },
  env_file: {
    kind: 'paths',
    expect: 'a dotenv file path or a list of them',
    description: 'dotenv files read into the environment, relative to the config folder',
  },
  cwd: {
    kind: 'string',
    expect: 'a folder path',
    description: "working directory (default: the config file's folder)",
  },
  ready_timeout: { ...seconds(0.1), description: 'seconds to become ready before the start fails' },
  stop_timeout: { ...seconds(0), description: 'seconds between SIGTERM and SIGKILL' },
  restart: {
    kind: 'enum',
    values: ['no', 'on-failure', 'always'],
    description: 'when to restart the server after it exits',
  },
  max_restarts: { kind: 'int', min: 0, max: 1000, description: 'restarts in a row before it is marked crashed' },
  depends_on: {
    kind: 'list',
    expect: 'a list of server names',
    description: 'servers that must be ready before this one starts',
  },
  protocol: {
    kind: 'enum',
    values: ['http', 'grpc'],
    description: 'http, or grpc to serve it on proxy.grpc_port over HTTP/2',
  },
  behind_proxy: { kind: 'bool', description: 'false keeps a server with a port out of the proxy' },
  kind: {
    kind: 'enum',
    values: ['server', 'task'],
    description: 'task: runs to completion before the servers that depend on it',
  },
  max_memory: {
    kind: 'size',
    expect: 'a size in bytes, or with a K, M or G suffix like "512M"',
    description: 'an instance whose process tree stays above this much memory is restarted',
  },
  watch: {
    kind: 'list-or-object',
    schema: watchSchema,
    expect: 'a list of paths or globs, or a mapping with paths, ignore and debounce',
    description: 'files whose change restarts the server (or runs the task again) under start --watch',
  },
  then_restart: {
    kind: 'list',
    expect: 'a list of server names',
    description: 'servers restarted after this watched task succeeded',
  },
  image: {
    kind: 'string',
    expect: 'a container image reference like "registry.example.com/api:1.2"',
    description: 'the container image that runs this server, for export compose and export kubernetes',
  },
}

const logsSchema: Schema = {
  max_size: {
    kind: 'int',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    expect: 'a size in bytes (0 turns rotation off)',
    description: 'bytes before a log file is rotated',
  },
  keep: { kind: 'int', min: 1, max: 100, description: 'rotated files kept per log' },
}

// The whole config file; the JSON Schema (json-schema.ts) is generated from these tables.
export const topSchema: Schema = {
  proxy: {
    kind: 'object',
    schema: proxySchema,
    expect: 'a mapping of proxy settings',
    description: 'the proxy in front',
  },
  servers: {
    kind: 'servers',
    required: true,
    expect: 'a non-empty list of servers',
    description: 'the processes to run',
  },
  logs: { kind: 'object', schema: logsSchema, expect: 'a mapping of log settings', description: 'log rotation' },
  on_failure: {
    kind: 'enum',
    values: ['keep-running', 'stop-all'],
    description: 'stop-all: a server that fails for good (no restart left) stops the whole stack',
  },
  layout: {
    kind: 'enum',
    values: ['multi', 'single'],
    description: 'multi: each server its own processes behind the proxy; single: one process serving every module',
  },
  after_stop: {
    kind: 'commands',
    expect: 'a list of shell commands',
    description: "commands run one after the other once a stop is complete, in the config's folder",
  },
}
