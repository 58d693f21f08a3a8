// dotenv files (a server's env_file, the .env beside a config): KEY=value lines, read as docker compose reads them.
import fs from 'node:fs'
import type { Problem } from './schema.ts'
import type { ServerConfig } from './types.ts'
import { MANAGER_ENV } from './validators.ts'

export interface EnvFile {
  values: Record<string, string>
  // Lines that are not KEY=value, as `line N: <what is wrong>, expected <what>`.
  problems: string[]
}

const KEY = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*/
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', $: '$' }

// A quoted value runs to its closing quote, over several lines if need be; returns the value and where it ends.
function quoted(text: string, from: number, quote: string): { value: string; end: number } | undefined {
  let value = ''
  for (let i = from; i < text.length; i++) {
    const c = text[i]
    if (c === quote) return { value, end: i + 1 }
    if (quote === '"' && c === '\\' && ESCAPES[text[i + 1]] !== undefined) value += ESCAPES[text[++i]]
    else value += c
  }
  return undefined
}

// Comments (# lines, and ` # ...` after an unquoted value), blank lines and an `export ` prefix are allowed;
// double quotes take \n \t \" \\ \$ escapes, single quotes nothing; the last of a repeated key wins.
export function parseEnvFile(raw: string): EnvFile {
  const text = raw.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n')
  const values: Record<string, string> = {}
  const problems: string[] = []
  const lineAt = (offset: number) => text.slice(0, offset).split('\n').length
  let pos = 0
  while (pos < text.length) {
    let eol = text.indexOf('\n', pos)
    if (eol < 0) eol = text.length
    const line = text.slice(pos, eol)
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) {
      pos = eol + 1
      continue
    }
    const start = pos + line.length - line.trimStart().length
    const key = KEY.exec(text.slice(start, eol))
    if (!key) {
      problems.push(
        `line ${lineAt(start)}: ${JSON.stringify(trimmed.slice(0, 40))} is not KEY=value, expected NAME=value`,
      )
      pos = eol + 1
      continue
    }
    const valueAt = start + key[0].length
    const quote = text[valueAt]
    if (quote === '"' || quote === "'") {
      const found = quoted(text, valueAt + 1, quote)
      if (!found) {
        problems.push(
          `line ${lineAt(start)}: ${key[1]} has no closing ${quote}, expected the value to end with ${quote}`,
        )
        break
      }
      let after = text.indexOf('\n', found.end)
      if (after < 0) after = text.length
      const rest = text.slice(found.end, after).trim()
      if (rest !== '' && !rest.startsWith('#'))
        problems.push(
          `line ${lineAt(found.end)}: ${JSON.stringify(rest.slice(0, 40))} after the quoted value of ${key[1]}` +
            `, expected nothing or a # comment`,
        )
      else values[key[1]] = found.value
      pos = after + 1
      continue
    }
    values[key[1]] = text
      .slice(valueAt, eol)
      .replace(/(^|\s+)#.*$/, '')
      .trim()
    pos = eol + 1
  }
  return { values, problems }
}

// The file's values, or why it cannot be read (no such file, a folder, no permission).
export function readEnvFile(file: string): EnvFile & { unreadable?: string } {
  try {
    return parseEnvFile(fs.readFileSync(file, 'utf8'))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code})`
    return { values: {}, problems: [], unreadable: why }
  }
}

// Each server's env_file values go under its env (env wins; a later file wins over an earlier one). What the manager
// sets itself (PORT, HOST, ...) is left out: a .env shared with other tools may well set PORT.
export function mergeEnvFiles(servers: ServerConfig[]): Problem[] {
  const problems: Problem[] = []
  servers.forEach((s, i) => {
    const fromFiles: Record<string, string> = {}
    for (const file of s.env_file ?? []) {
      const read = readEnvFile(file)
      const at = `servers[${i}].env_file`
      if (read.unreadable)
        problems.push({
          path: at,
          message:
            `${JSON.stringify(file)} ${read.unreadable}` +
            `, expected a dotenv file (relative paths start at the config file's folder)`,
        })
      for (const p of read.problems) problems.push({ path: at, message: `${file}: ${p}` })
      Object.assign(fromFiles, read.values)
    }
    for (const key of Object.keys(fromFiles))
      if (MANAGER_ENV.includes(key) || (key === 'PORT' && s.port !== undefined)) delete fromFiles[key]
    if (Object.keys(fromFiles).length > 0) s.env = { ...fromFiles, ...s.env }
  })
  return problems
}
