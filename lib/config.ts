import fs from 'node:fs'
import path from 'node:path'
import { YAML } from 'zx'
import { BackendManagerError } from './errors.ts'
import { checkShape, type Problem } from './schema.ts'
import { checkSemantics } from './validators.ts'

export type ProxyType = 'nginx' | 'envoy' | 'none'
export type RestartPolicy = 'no' | 'on-failure' | 'always'
export type Protocol = 'http' | 'grpc'

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
  // An HTTP path, 'tcp' or 'none'.
  health: string
  env: Record<string, string>
  cwd: string
  ready_timeout: number
  stop_timeout: number
  restart: RestartPolicy
  max_restarts: number
  depends_on: string[]
  protocol: Protocol
}

export interface LogsConfig {
  // Bytes after which a per-process log file is rotated; 0 disables rotation.
  max_size: number
  keep: number
}

export interface Config {
  file: string
  dir: string
  proxy: ProxyConfig
  servers: ServerConfig[]
  logs: LogsConfig
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

function serverDefaults(raw: Record<string, unknown>, proxy: ProxyConfig, dir: string): ServerConfig {
  const hasPort = raw.port !== undefined
  const protocol = (raw.protocol as Protocol | undefined) ?? 'http'
  return {
    name: raw.name as string,
    command: raw.command as string | string[],
    port: raw.port as number | undefined,
    host: (raw.host as string | undefined) ?? proxy.host,
    instances: (raw.instances as number | undefined) ?? 1,
    modules: (raw.modules as string[] | undefined) ?? [],
    health: (raw.health as string | undefined) ?? (hasPort ? 'tcp' : 'none'),
    env: Object.fromEntries(Object.entries((raw.env as Record<string, unknown>) ?? {}).map(([k, v]) => [k, String(v)])),
    cwd: path.resolve(dir, (raw.cwd as string | undefined) ?? '.'),
    ready_timeout: (raw.ready_timeout as number | undefined) ?? 30,
    stop_timeout: (raw.stop_timeout as number | undefined) ?? 3,
    restart: (raw.restart as RestartPolicy | undefined) ?? 'on-failure',
    max_restarts: (raw.max_restarts as number | undefined) ?? 5,
    depends_on: (raw.depends_on as string[] | undefined) ?? [],
    protocol,
  }
}

// Defaults are applied only after the shape check, so every cast above is to a checked type.
export function applyDefaults(raw: Record<string, unknown>, file: string): Config {
  const dir = path.dirname(path.resolve(file))
  const proxy = { ...proxyDefaults, ...((raw.proxy as Partial<ProxyConfig> | undefined) ?? {}) }
  const logs = { ...logsDefaults, ...((raw.logs as Partial<LogsConfig> | undefined) ?? {}) }
  const servers = ((raw.servers as Record<string, unknown>[] | undefined) ?? []).map((s) => serverDefaults(s, proxy, dir))
  return { file, dir, proxy, servers, logs }
}

export function formatProblems(file: string, problems: Problem[]): string {
  return problems.map((p) => `${file}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')
}

// Parse, check the shape, apply defaults, then run the semantic validators; throw all problems at once.
export function parseConfig(text: string, file: string): Config {
  let raw: unknown
  try {
    raw = (YAML.parse as (src: string, options: object) => unknown)(text, { prettyErrors: true, uniqueKeys: true })
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new BackendManagerError('CONFIG', `${file}: invalid YAML: ${detail}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BackendManagerError('CONFIG', `${file}: expected a mapping with "servers" (and optionally "proxy", "logs"), got ${raw === null ? 'an empty file' : typeof raw}`)
  }
  const shapeProblems = checkShape(raw as Record<string, unknown>)
  if (shapeProblems.length > 0) throw new BackendManagerError('CONFIG', formatProblems(file, shapeProblems))
  const config = applyDefaults(raw as Record<string, unknown>, file)
  const problems = checkSemantics(config)
  if (problems.length > 0) throw new BackendManagerError('CONFIG', formatProblems(file, problems))
  return config
}

export function loadConfig(file: string): Config {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new BackendManagerError('CONFIG', `${file}: cannot read config file (${code === 'ENOENT' ? 'no such file' : code})`)
  }
  return parseConfig(text, file)
}
