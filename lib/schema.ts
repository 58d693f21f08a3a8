
export interface Problem {
  path: string
  message: string
}

type Rule =
  | { kind: 'string'; required?: boolean }
  | { kind: 'int'; min: number; max: number; required?: boolean }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'enum'; values: string[] }
  | { kind: 'list' }
  | { kind: 'map' }
  | { kind: 'command'; required: true }
  | { kind: 'object'; schema: Schema; required?: boolean }
  | { kind: 'servers' }

type Schema = Record<string, Rule>

const port: Rule = { kind: 'int', min: 1, max: 65535 }

const proxySchema: Schema = {
  type: { kind: 'enum', values: ['nginx', 'envoy', 'none'] },
  host: { kind: 'string' },
  port,
  routing_strategy: { kind: 'enum', values: ['path'] },
  api_prefix: { kind: 'string' },
  admin_port: port,
  grpc_port: port,
}

export const serverSchema: Schema = {
  name: { kind: 'string', required: true },
  command: { kind: 'command', required: true },
  port,
  host: { kind: 'string' },
  instances: { kind: 'int', min: 1, max: 256 },
  modules: { kind: 'list' },
  health: { kind: 'string' },
  env: { kind: 'map' },
  cwd: { kind: 'string' },
  ready_timeout: { kind: 'number', min: 0.1, max: 3600 },
  stop_timeout: { kind: 'number', min: 0, max: 3600 },
  restart: { kind: 'enum', values: ['no', 'on-failure', 'always'] },
  max_restarts: { kind: 'int', min: 0, max: 1000 },
  depends_on: { kind: 'list' },
  protocol: { kind: 'enum', values: ['http', 'grpc'] },
}

const logsSchema: Schema = {
  max_size: { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER },
  keep: { kind: 'int', min: 1, max: 100 },
}

const topSchema: Schema = {
  proxy: { kind: 'object', schema: proxySchema },
  servers: { kind: 'servers' },
  logs: { kind: 'object', schema: logsSchema },
}

const show = (value: unknown) => JSON.stringify(value) ?? String(value)
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]
}

export function didYouMean(word: string, candidates: string[]): string {
  const best = candidates
    .map((c) => ({ c, d: editDistance(word.toLowerCase(), c) }))
    .sort((x, y) => x.d - y.d)[0]
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean "${best.c}"?)` : ''
}

function checkRule(rule: Rule, value: unknown, at: string, out: Problem[]): void {
  const expect = (what: string): void => {
    out.push({ path: at, message: `expected ${what}, got ${show(value)}` })
  }
  switch (rule.kind) {
    case 'string':
      if (typeof value !== 'string' || value === '') expect('a non-empty string')
      return
    case 'int':
      if (!Number.isInteger(value) || (value as number) < rule.min || (value as number) > rule.max)
        expect(rule === port ? 'a port number from 1 to 65535' : `a whole number from ${rule.min} to ${rule.max}`)
      return
    case 'number':
      if (typeof value !== 'number' || !(value >= rule.min && value <= rule.max)) expect(`a number of seconds from ${rule.min} to ${rule.max}`)
      return
    case 'enum':
      if (typeof value !== 'string' || !rule.values.includes(value))
        expect(`one of ${rule.values.join(', ')}${typeof value === 'string' ? didYouMean(value, rule.values) : ''}`)
      return
    case 'list':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) expect('a list of names')
      return
    case 'map':
      if (!isPlainObject(value) || Object.values(value).some((v) => v !== null && typeof v === 'object'))
        expect('a mapping of NAME: value (strings or numbers)')
      return
    case 'command':
      if (!(typeof value === 'string' && value.trim() !== '') && !(Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v !== '')))
        expect('a command string or a non-empty list of arguments')
      return
    case 'object':
      if (!isPlainObject(value)) return expect('a mapping')
      checkObject(rule.schema, value, at, out)
      return
    case 'servers':
      if (!Array.isArray(value) || value.length === 0) return expect('a non-empty list of servers')
      value.forEach((server, i) => {
        if (!isPlainObject(server)) out.push({ path: `servers[${i}]`, message: `expected a mapping with name and command, got ${show(server)}` })
        else checkObject(serverSchema, server, `servers[${i}]`, out)
      })
  }
}

function checkObject(schema: Schema, value: Record<string, unknown>, at: string, out: Problem[]): void {
  const keys = Object.keys(schema)
  const join = (key: string) => (at ? `${at}.${key}` : key)
  for (const key of Object.keys(value)) {
    if (!(key in schema)) out.push({ path: join(key), message: `unknown key${didYouMean(key, keys)}; expected one of ${keys.join(', ')}` })
    else if (value[key] !== undefined && value[key] !== null) checkRule(schema[key], value[key], join(key), out)
  }
  for (const [key, rule] of Object.entries(schema)) {
    const required = rule.kind === 'servers' || ('required' in rule && rule.required)
    if (required && (value[key] === undefined || value[key] === null)) out.push({ path: join(key), message: 'is required' })
  }
}

// Types, required keys and unknown keys, before any default is applied.
export function checkShape(raw: Record<string, unknown>): Problem[] {
  const out: Problem[] = []
  checkObject(topSchema, raw, '', out)
  return out
}
