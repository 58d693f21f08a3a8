// Reading a config file: YAML parsed (and cached), shape-checked, defaulted and validated, every problem at once.
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import path from 'node:path'
import { BackendManagerError } from '../core/errors.ts'
import { checkShape, pruneBadValues, show, type Problem } from './schema.ts'
import { checkSemantics } from './validators.ts'
import { mergeEnvFiles } from './env-file.ts'
import { configVariables, interpolateConfig, linkServers } from './interpolate.ts'
import { shiftPorts, type PortOffset } from './port-offset.ts'
import { layoutOf, singleLayout } from './layout.ts'
import { readJsonFile, writeJsonAtomic } from '../core/json-files.ts'
import { parseSize } from './size.ts'
import {
  healthDefaults,
  logsDefaults,
  proxyDefaults,
  type Config,
  type FailurePolicy,
  type Layout,
  type HealthConfig,
  type LogsConfig,
  type Protocol,
  type ProxyConfig,
  type RestartPolicy,
  type ServerConfig,
  type ServerKind,
  type WatchConfig,
  WATCH_DEBOUNCE_MS,
} from './types.ts'

// `key:` with no value parses as null; it means "use the default", like leaving the key out.
function present(raw: unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries((raw as Record<string, unknown> | null | undefined) ?? {}).filter(([, v]) => v !== null),
  )
}

function serverDefaults(given: Record<string, unknown>, proxy: ProxyConfig, dir: string): ServerConfig {
  const raw = present(given)
  const hasPort = raw.port !== undefined
  const protocol = (raw.protocol as Protocol | undefined) ?? 'http'
  const kind = (raw.kind as ServerKind | undefined) ?? 'server'
  const readyTimeout = (raw.ready_timeout as number | undefined) ?? 30
  const liveness = healthOf(raw.health, hasPort, readyTimeout)
  return {
    name: raw.name as string,
    // YAML reads `[sleep, 100]` with a number in it; every argument is a string by the time it runs.
    command: Array.isArray(raw.command) ? raw.command.map(String) : (raw.command as string),
    port: raw.port as number | undefined,
    host: (raw.host as string | undefined) ?? proxy.host,
    instances: (raw.instances as number | undefined) ?? 1,
    modules: (raw.modules as string[] | undefined) ?? [],
    // The string form is kept as written, so the validators refuse a string that is not a path, tcp or none.
    health: typeof raw.health === 'string' ? raw.health : readinessCheck(liveness.check, hasPort),
    liveness,
    ...(raw.max_memory !== undefined ? { max_memory: parseSize(raw.max_memory) } : {}),
    // `NAME:` with no value parses as null and means an empty value.
    env: Object.fromEntries(
      Object.entries((raw.env as Record<string, unknown>) ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]),
    ),
    ...(raw.env_file === undefined
      ? {}
      : { env_file: [raw.env_file as string | string[]].flat().map((f) => path.resolve(dir, f)) }),
    cwd: path.resolve(dir, (raw.cwd as string | undefined) ?? '.'),
    ready_timeout: readyTimeout,
    stop_timeout: (raw.stop_timeout as number | undefined) ?? 3,
    // A task runs once: it is never restarted.
    restart: (raw.restart as RestartPolicy | undefined) ?? (kind === 'task' ? 'no' : 'on-failure'),
    max_restarts: (raw.max_restarts as number | undefined) ?? 5,
    depends_on: (raw.depends_on as string[] | undefined) ?? [],
    protocol,
    behind_proxy: (raw.behind_proxy as boolean | undefined) ?? true,
    kind,
    ...(raw.watch === undefined ? {} : { watch: watchDefaults(raw.watch, dir) }),
    ...(raw.then_restart === undefined ? {} : { then_restart: raw.then_restart as string[] }),
    ...(raw.image === undefined ? {} : { image: raw.image as string }),
  }
}

// `watch: [paths]` is short for `watch: { paths: [...] }`; paths and ignores stay relative to the config's folder.
function watchDefaults(given: unknown, root: string): WatchConfig {
  const raw = Array.isArray(given) ? { paths: given } : present(given)
  return {
    root,
    paths: (raw.paths as string[] | undefined) ?? [],
    ignore: (raw.ignore as string[] | undefined) ?? [],
    debounce: (raw.debounce as number | undefined) ?? WATCH_DEBOUNCE_MS,
  }
}

// The health string or mapping, defaulted: the string form is the check with the default timings.
function healthOf(given: unknown, hasPort: boolean, readyTimeout: number): HealthConfig {
  const raw = typeof given === 'string' ? { check: given } : present(given)
  const check = Array.isArray(raw.check) ? raw.check.map(String) : (raw.check as string | undefined)
  return {
    ...healthDefaults,
    start_period: readyTimeout,
    ...raw,
    check: check ?? (hasPort ? 'tcp' : 'none'),
  } as HealthConfig
}

// What readiness waits for: the check itself, unless it is a command (then the port, or 300 ms alive without one).
export function readinessCheck(check: string | string[], hasPort: boolean): string {
  if (typeof check === 'string' && (check.startsWith('/') || check === 'tcp' || check === 'none')) return check
  return hasPort ? 'tcp' : 'none'
}

// Defaults are applied only after the shape check, so every cast above is to a checked type.
export function applyDefaults(raw: Record<string, unknown>, file: string): Config {
  const dir = path.dirname(path.resolve(file))
  const proxy: ProxyConfig = { ...proxyDefaults, ...present(raw.proxy) }
  const logs: LogsConfig = { ...logsDefaults, ...present(raw.logs) }
  const servers = ((raw.servers as Record<string, unknown>[] | undefined) ?? []).map((s) =>
    serverDefaults(s, proxy, dir),
  )
  const on_failure = (raw.on_failure as FailurePolicy | undefined) ?? 'keep-running'
  const layout = (raw.layout as Layout | undefined) ?? 'multi'
  const after_stop = (raw.after_stop as string[] | undefined) ?? []
  return { file, dir, proxy, servers, logs, on_failure, layout, after_stop }
}

export function formatProblems(file: string, problems: Problem[]): string {
  return problems.map((p) => `${file}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')
}

// What the top of the file holds, for the message when it is not a mapping.
function describeTop(raw: unknown): string {
  if (raw === null || raw === undefined) return 'the file is empty'
  if (Array.isArray(raw)) return 'the file holds a list'
  return `the file holds a single value ${show(raw)}`
}

// A YAML syntax error as `line L, column C: invalid YAML: <reason>`, without the library's code excerpt.
function yamlProblem(error: unknown): Problem {
  const e = error as { message?: string; code?: string; linePos?: { line: number; col: number }[] }
  const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : ''
  let reason = String(e.message ?? error)
    .split('\n')[0]
    .replace(/ at line \d+, column \d+:?$/, '')
  if (e.code === 'MULTIPLE_DOCS') reason = 'the file holds several documents, expected one'
  else if (e.code === 'DUPLICATE_KEY') reason = 'a key appears twice in one mapping, expected each key once'
  else reason = reason.charAt(0).toLowerCase() + reason.slice(1)
  return { path: where, message: `invalid YAML: ${reason}` }
}

// zx (for its YAML) costs ~60 ms and ~17 MB to load: loaded only when a config is parsed, so stop,
// status and the supervisor, which import this module for its types and defaults, never pay for it.
function parseYaml(text: string, options: object): unknown {
  const { YAML } = createRequire(import.meta.url)('zx') as typeof import('zx')
  return (YAML.parse as (src: string, options: object) => unknown)(text, options)
}

// Parse, check the shape, apply defaults, then run the semantic validators; throw all problems at once.
export function parseConfig(text: string, file: string, opts: LoadOptions = {}): Config {
  return fromFile(parseRaw(text, file), file, opts)
}

// ${VAR}s replaced (from opts.env, then the .env beside the file), then as any config.
function fromFile(raw: Record<string, unknown>, file: string, opts: LoadOptions): Config {
  const vars = configVariables(file, opts.env)
  const interpolated = interpolateConfig(raw, vars)
  const problems = [...vars.problems, ...interpolated.problems]
  if (problems.length > 0) throw new BackendManagerError('CONFIG', formatProblems(file, problems))
  const config = configFromObject(interpolated.raw, file, opts.portOffset, opts.layout)
  if (Object.keys(interpolated.used).length > 0) config.variables = interpolated.used
  return config
}

function parseRaw(text: string, file: string): Record<string, unknown> {
  let raw: unknown
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' })
  } catch (error) {
    throw new BackendManagerError('CONFIG', formatProblems(file, [yamlProblem(error)]))
  }
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BackendManagerError(
      'CONFIG',
      `${file}: ${describeTop(raw)}, expected a mapping with "servers" (and optionally "proxy", "logs")`,
    )
  }
  return raw as Record<string, unknown>
}

// The shape check, defaults and validators, for YAML already parsed or a config built in code (simple mode); then
// the layout (the flag's, else the config's): the single layout checks the config as written, then folds it.
export function configFromObject(
  raw: Record<string, unknown>,
  file: string,
  portOffset?: PortOffset,
  layoutFlag?: Layout,
): Config {
  const shapeProblems = checkShape(raw)
  if (shapeProblems.length > 0) {
    const all = [...shapeProblems, ...semanticsDespite(raw, shapeProblems, file)]
    throw new BackendManagerError('CONFIG', formatProblems(file, all))
  }
  const config = applyDefaults(raw, file)
  const fileProblems = mergeEnvFiles(config.servers)
  if (portOffset) shiftPorts(config, portOffset)
  const { layout, from } = layoutOf(config, layoutFlag)
  // Folded before {port:NAME} is filled in, so a folded server's port there becomes the root's.
  const unlinked = layout === 'single' ? structuredClone(config) : undefined
  const problems = [...fileProblems, ...linkServers(config.servers), ...checkSemantics(config)]
  if (problems.length > 0) throw new BackendManagerError('CONFIG', formatProblems(file, problems))
  if (!unlinked) return { ...config, layout }
  const single = singleLayout(unlinked, from)
  const aliases = Object.fromEntries((single.folded?.servers ?? []).map((name) => [name, single.folded!.into]))
  linkServers(single.servers, aliases)
  return single
}

// Every problem at once: the semantic checks run on the well-shaped rest, and leave out what involves a
// bad value (a bad port would also read as "no port"; a proxy port left to its default could "overlap").
function semanticsDespite(raw: Record<string, unknown>, shapeProblems: Problem[], file: string): Problem[] {
  const damage = pruneBadValues(raw, shapeProblems)
  const config = applyDefaults(damage.usable, file)
  for (const s of config.servers) {
    s.name ??= ''
    s.command ??= ''
  }
  const names = [...damage.servers].map((i) => config.servers[i]?.name).filter((n) => typeof n === 'string')
  const involved = (p: Problem) =>
    [...damage.servers].some((i) => new RegExp(`^servers\\[${i}\\]($|[.[])`).test(p.path)) ||
    names.some((n) => p.message.includes(JSON.stringify(n))) ||
    (damage.proxy && (p.path.startsWith('proxy') || p.message.includes('proxy')))
  return checkSemantics(config).filter((p) => !involved(p))
}

export interface LoadOptions {
  // Where start and restart keep the last parsed YAML, keyed by the file's content hash: a repeated
  // start skips loading the YAML parser (~50 ms). Only a config that validated is written there.
  cacheFile?: string
  // What ${VAR} reads first (the command's environment); the .env beside the config comes after it.
  env?: NodeJS.ProcessEnv
  portOffset?: PortOffset
  // --layout: wins over the config's `layout:`.
  layout?: Layout
}

function cachedRaw(cacheFile: string, key: string): Record<string, unknown> | undefined {
  const cached = readJsonFile(cacheFile)
  return cached?.key === key && cached.raw && typeof cached.raw === 'object'
    ? (cached.raw as Record<string, unknown>)
    : undefined
}

export function loadConfig(file: string, opts: LoadOptions = {}): Config {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : `error ${code}`
    throw new BackendManagerError(
      'CONFIG',
      `${file}: cannot read the config file (${reason}), expected a readable YAML file`,
    )
  }
  if (!opts.cacheFile) return parseConfig(text, file, opts)
  const key = createHash('sha256').update(text).digest('hex')
  const hit = cachedRaw(opts.cacheFile, key)
  if (hit) return fromFile(hit, file, opts)
  const raw = parseRaw(text, file)
  const config = fromFile(raw, file, opts)
  // Only into a state folder already in use: a first start (or a bad flag after it) creates nothing here.
  if (fs.existsSync(path.dirname(opts.cacheFile))) writeJsonAtomic(opts.cacheFile, { key, raw })
  return config
}
