// The shape check: types, required keys and unknown keys, before any default is applied.
// Every message reads `<what is wrong>, expected <what>`; the caller prefixes file and key path.
import { parseSize } from './size.ts'
import { serverSchema, topSchema, type Rule, type Schema } from './rules.ts'

export interface Problem {
  path: string
  message: string
}

// A value as the user wrote it, shortened so one bad value cannot flood the report.
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)
const isScalar = (v: unknown) => (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v))

// Edits (insert, delete, substitute, swap two neighbours) between two words.
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

// ' (did you mean "x"?)' for the closest candidate, or '' when nothing is close enough to be a typo.
export function didYouMean(word: string, candidates: string[]): string {
  const best = candidates
    .map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0]
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best.c}"?)` : ''
}

export function expectation(rule: Rule): string {
  if (rule.expect) return rule.expect
  if (rule.kind === 'int') return `a whole number from ${rule.min} to ${rule.max}`
  if (rule.kind === 'enum') return `one of ${rule.values.join(', ')}`
  return 'a value'
}

// What is wrong with a value, or undefined when it fits the rule; nested problems go to out.
function wrong(rule: Rule, value: unknown, at: string, out: Problem[]): string | undefined {
  const v = show(value)
  switch (rule.kind) {
    case 'string':
      return typeof value !== 'string' ? `${v} is not a string` : value === '' ? `${v} is empty` : undefined
    case 'int':
    case 'number':
      if (typeof value !== 'number') return `${v} is not a number`
      if (rule.kind === 'int' && !Number.isInteger(value)) return `${v} is not a whole number`
      return value >= rule.min && value <= rule.max ? undefined : `${v} is out of range`
    case 'enum':
      if (typeof value === 'string' && rule.values.includes(value)) return undefined
      return `${v} is not a valid choice${typeof value === 'string' ? didYouMean(value, rule.values) : ''}`
    case 'list':
      if (!Array.isArray(value)) return `${v} is not a list`
      value.forEach((item, k) => {
        if (typeof item !== 'string' || item === '')
          out.push({ path: `${at}[${k}]`, message: `${show(item)} is not a name, expected a non-empty string` })
      })
      return undefined
    case 'bool':
      return typeof value === 'boolean' ? undefined : `${v} is not true or false`
    case 'map':
      if (!isPlainObject(value)) return `${v} is not a mapping`
      for (const [key, item] of Object.entries(value))
        if (item !== null && typeof item === 'object')
          out.push({
            path: `${at}.${key}`,
            message: `${show(item)} is not a plain value, expected a string or a number`,
          })
      return undefined
    case 'command':
      if (typeof value === 'string') return value.trim() === '' ? `${v} is empty` : undefined
      if (!Array.isArray(value)) return `${v} is not a command`
      if (value.length === 0) return `${v} is empty`
      value.forEach((arg, k) => {
        if (!isScalar(arg))
          out.push({
            path: `${at}[${k}]`,
            message: `${show(arg)} is not an argument, expected a non-empty string or a number`,
          })
      })
      return undefined
    case 'list-or-object':
      if (Array.isArray(value)) return wrong({ kind: 'list' }, value, at, out)
      if (!isPlainObject(value)) return `${v} is neither a list nor a mapping`
      checkObject(rule.schema, value, at, out)
      return undefined
    case 'object':
      if (!isPlainObject(value)) return `${v} is not a mapping`
      checkObject(rule.schema, value, at, out)
      return undefined
    case 'commands':
      if (!Array.isArray(value)) return `${v} is not a list`
      value.forEach((item, k) => {
        if (typeof item !== 'string' || item.trim() === '')
          out.push({ path: `${at}[${k}]`, message: `${show(item)} is not a command, expected a non-empty string` })
      })
      return undefined
    case 'stringOrObject':
      if (isPlainObject(value)) {
        checkObject(rule.schema, value, at, out)
        return undefined
      }
      return typeof value !== 'string'
        ? `${v} is not a string or a mapping`
        : value === ''
          ? `${v} is empty`
          : undefined
    case 'size':
      return parseSize(value) === undefined ? `${v} is not a size` : undefined
    case 'servers':
      if (!Array.isArray(value)) return `${v} is not a list`
      if (value.length === 0) return `${v} is empty`
      value.forEach((server, i) => {
        if (!isPlainObject(server))
          out.push({
            path: `servers[${i}]`,
            message: `${show(server)} is not a mapping, expected a mapping with name and command`,
          })
        else checkObject(serverSchema, server, `servers[${i}]`, out)
      })
      return undefined
    case 'paths':
      if (typeof value === 'string') return value === '' ? `${v} is empty` : undefined
      if (!Array.isArray(value)) return `${v} is not a path or a list`
      value.forEach((item, k) => {
        if (typeof item !== 'string' || item === '')
          out.push({ path: `${at}[${k}]`, message: `${show(item)} is not a path, expected a non-empty string` })
      })
      return undefined
  }
}

function checkObject(schema: Schema, value: Record<string, unknown>, at: string, out: Problem[]): void {
  const keys = Object.keys(schema)
  const join = (key: string) => (at ? `${at}.${key}` : key)
  for (const key of Object.keys(value)) {
    const rule = schema[key]
    if (!Object.hasOwn(schema, key)) {
      out.push({ path: join(key), message: `unknown key${didYouMean(key, keys)}, expected one of ${keys.join(', ')}` })
    } else if (value[key] !== undefined && value[key] !== null) {
      const problem = wrong(rule, value[key], join(key), out)
      if (problem) out.push({ path: join(key), message: `${problem}, expected ${expectation(rule)}` })
    }
  }
  for (const [key, rule] of Object.entries(schema))
    if (rule.required && (value[key] === undefined || value[key] === null))
      out.push({ path: join(key), message: `missing, expected ${expectation(rule)}` })
}

// Types, required keys and unknown keys of the raw parsed file.
export function checkShape(raw: Record<string, unknown>): Problem[] {
  const out: Problem[] = []
  checkObject(topSchema, raw, '', out)
  return out
}

// Where bad values were found, so the semantic checks can run on everything else.
export interface ShapeDamage {
  // The raw config with every bad value left out (its default applies); a server that is not a mapping becomes {}.
  usable: Record<string, unknown>
  // Indexes of servers with a bad or missing value, and whether a proxy setting was bad.
  servers: Set<number>
  proxy: boolean
}

// An unknown key is only reported: it changes no value, so the checks after it are not misled.
export function pruneBadValues(raw: Record<string, unknown>, problems: Problem[]): ShapeDamage {
  const usable: Record<string, unknown> = { ...raw }
  const damage: ShapeDamage = { usable, servers: new Set(), proxy: false }
  const servers = Array.isArray(raw.servers) ? raw.servers.map((s) => (isPlainObject(s) ? { ...s } : {})) : undefined
  if (servers) usable.servers = servers
  for (const p of problems) {
    if (p.message.startsWith('unknown key')) continue
    const [, top, index, key] = /^([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+))?/.exec(p.path) ?? []
    if (top === 'proxy') damage.proxy = true
    if (top === 'servers' && index !== undefined && servers) {
      damage.servers.add(Number(index))
      if (key) delete servers[Number(index)][key]
    } else if (top && key && isPlainObject(usable[top])) {
      const section = { ...(usable[top] as Record<string, unknown>) }
      delete section[key]
      usable[top] = section
    } else if (top) delete usable[top]
  }
  return damage
}
