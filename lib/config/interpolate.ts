// Values a config takes from outside it: ${VAR} from the environment (then the .env beside the config) in the parsed
// file, and {port:NAME} / {host:NAME} of another server in commands and env values once every port is known.
import path from 'node:path'
import type { Problem } from './schema.ts'
import { didYouMean } from './schema.ts'
import type { ServerConfig } from './types.ts'
import { readEnvFile } from './env-file.ts'
import { connectHost } from '../os/hosts.ts'

export interface Variables {
  // The environment of the command that reads the config: it wins over the .env file, as in docker compose.
  env: NodeJS.ProcessEnv
  dotenv: Record<string, string>
  // Where dotenv came from, for messages.
  dotenvFile: string
}

export interface Interpolated {
  raw: Record<string, unknown>
  problems: Problem[]
  // Each variable referenced, with its value in `env` (null: not set there): what a later read must see again.
  used: Record<string, string | null>
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/
// What a variable may hold where /bin/sh reads it (a command string): words, never shell syntax.
const SHELL_WORD = /[A-Za-z0-9 _.,:/@%+=-]/g

// The .env beside the config, if any: its problems name it, and make the config fail like its own would.
export function configVariables(file: string, env: NodeJS.ProcessEnv = {}): Variables & { problems: Problem[] } {
  const dotenvFile = path.join(path.dirname(path.resolve(file)), '.env')
  const read = readEnvFile(dotenvFile)
  const problems = read.problems.map((p) => ({ path: '', message: `${dotenvFile}: ${p}` }))
  if (read.unreadable && read.unreadable !== 'does not exist')
    problems.push({ path: '', message: `${dotenvFile} ${read.unreadable}, expected a readable dotenv file or none` })
  return { env, dotenv: read.values, dotenvFile, problems }
}

// One string with ${VAR}, ${VAR:-default} (unset or empty), ${VAR-default} (unset) and $$ (a literal $) replaced.
// A default may hold references itself; any other $ is left as written (a shell's $PORT stays the shell's).
// inShell: the string is a command /bin/sh runs, so a variable's value must hold no shell syntax (defaults are
// written in the config itself, and go in as written, like the rest of the command).
export function interpolateString(
  text: string,
  vars: Variables,
  onProblem: (message: string) => void,
  used: Record<string, string | null> = {},
  inShell = false,
): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c !== '$' || (text[i + 1] !== '$' && text[i + 1] !== '{')) {
      out += c
      i++
      continue
    }
    if (text[i + 1] === '$') {
      out += '$'
      i += 2
      continue
    }
    const name = NAME.exec(text.slice(i + 2))?.[0]
    const end = closingBrace(text, i + 2)
    if (!name || end < 0 || !/^(}|:?-)/.test(text.slice(i + 2 + name.length))) {
      const what = end < 0 ? text.slice(i) : text.slice(i, end + 1)
      onProblem(
        `${JSON.stringify(what)} is not a variable reference` +
          `, expected \${NAME} or \${NAME:-default} (write $$ for a literal $)`,
      )
      out += what
      i = end < 0 ? text.length : end + 1
      continue
    }
    const rest = text.slice(i + 2 + name.length, end)
    const fromEnv = vars.env[name]
    const value = fromEnv ?? vars.dotenv[name]
    used[name] = fromEnv ?? null
    const emptyCounts = rest.startsWith(':-')
    if (rest !== '' && (value === undefined || (emptyCounts && value === '')))
      out += interpolateString(rest.slice(emptyCounts ? 2 : 1), vars, onProblem, used, inShell)
    else if (value === undefined) {
      onProblem(
        `variable ${name} is not set, expected it in the environment or in ${vars.dotenvFile}` +
          `, or a default: \${${name}:-value} (write $\${${name}} for a literal \${${name}})`,
      )
    } else {
      const bad = inShell ? value.replace(SHELL_WORD, '') : ''
      if (bad !== '')
        onProblem(
          `\${${name}} (from ${fromEnv !== undefined ? 'the environment' : vars.dotenvFile}) holds ` +
            `${JSON.stringify(bad[0])}, which /bin/sh would read as shell syntax in this command` +
            `, expected letters, digits, spaces and "_.,:/@%+=-" only; set it in env and write "\$${name}" in the command` +
            ` or use a list command, whose arguments never pass through a shell`,
        )
      out += value
    }
    i = end + 1
  }
  return out
}

// The } closing the ${ whose name starts at `from`, past any ${...} nested in a default; -1 when there is none.
function closingBrace(text: string, from: number): number {
  let depth = 0
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '{') {
      depth++
      i++
    } else if (text[i] === '}') {
      if (depth === 0) return i
      depth--
    }
  }
  return -1
}

// A value that was one reference and nothing else reads as YAML would read what it became: `port: ${API_PORT}`
// is a number. Values under env stay strings (they reach the process as text either way).
function typed(value: string, whole: boolean, underEnv: boolean): unknown {
  if (!whole || underEnv) return value
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value)
  if (value === 'true' || value === 'false') return value === 'true'
  return value
}

// Every string value of the parsed config interpolated (keys never are); problems carry the key path.
export function interpolateConfig(raw: Record<string, unknown>, vars: Variables): Interpolated {
  const problems: Problem[] = []
  const used: Record<string, string | null> = {}
  const walk = (value: unknown, at: string, underEnv: boolean): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('$')) return value
      const inShell = /^servers\[\d+\]\.command$/.test(at)
      const problem = (message: string) => problems.push({ path: at, message })
      const result = interpolateString(value, vars, problem, used, inShell)
      return typed(result, /^\$\{[^}]*\}$/.test(value) && result !== value, underEnv)
    }
    if (Array.isArray(value)) return value.map((v, k) => walk(v, `${at}[${k}]`, underEnv))
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          walk(v, at ? `${at}.${k}` : k, underEnv || k === 'env' || k === 'env_file'),
        ]),
      )
    return value
  }
  return { raw: walk(raw, '', false) as Record<string, unknown>, problems, used }
}

const LINK = /\{(port|host):([^{}\s]*)\}/g

// {port:NAME} (NAME's first port) and {host:NAME} (where NAME is reached) in every command and env value, after
// any port offset. The values are numbers and checked host names, safe in a shell command as they are.
export function linkServers(servers: ServerConfig[], aliases: Record<string, string> = {}): Problem[] {
  const problems: Problem[] = []
  const byName = new Map(servers.map((s) => [s.name, s]))
  // A server folded into another (the single layout) is reached at the one that serves it.
  for (const [name, into] of Object.entries(aliases)) byName.set(name, byName.get(into)!)
  const replace = (text: string, at: string) =>
    text.replace(LINK, (whole, kind: string, name: string) => {
      const target = byName.get(name)
      if (!target) {
        problems.push({
          path: at,
          message:
            `${whole} names no server${didYouMean(name, [...byName.keys()])}` +
            `, expected one of ${[...byName.keys()].join(', ')}`,
        })
        return whole
      }
      if (kind === 'host') return connectHost(target.host)
      if (target.port === undefined) {
        problems.push({
          path: at,
          message: `${whole}: "${name}" has no port, expected the name of a server with a port`,
        })
        return whole
      }
      return String(target.port)
    })
  servers.forEach((s, i) => {
    s.command = Array.isArray(s.command)
      ? s.command.map((arg, k) => replace(arg, `servers[${i}].command[${k}]`))
      : replace(s.command, `servers[${i}].command`)
    s.env = Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, replace(v, `servers[${i}].env.${k}`)]))
  })
  return problems
}
