// The configs `init` writes: the commented starter (templates/init-config.yaml), or one converted from a Procfile
// (foreman's format: `name: command` per line) with each guess said, both as text, without touching the filesystem.
import { BackendManagerError } from '../core/errors.ts'
import { loadTemplate } from '../core/template.ts'
import { NAME_PATTERN } from './validators.ts'

export interface ProcfileEntry {
  name: string
  command: string
  line: number
}

export interface Converted {
  text: string
  // What was guessed, one line per process, said to the user and kept in the file's header.
  guesses: string[]
}

// foreman's default: the first process type gets 5000, each next one 100 more.
export const PROCFILE_BASE_PORT = 5000
const PORT_STEP = 100
const ENTRY = /^([A-Za-z0-9_-]+):\s*(.*)$/
const USES_PORT = /\$PORT\b|\$\{PORT\}/

export function starterConfig(): string {
  return loadTemplate('init-config.yaml')
}

// Each `name: command` line; blank lines and # comments skipped; anything else is an error naming the line.
export function parseProcfile(text: string, file: string): ProcfileEntry[] {
  const entries: ProcfileEntry[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const m = ENTRY.exec(line)
    if (!m || m[2].trim() === '')
      throw new BackendManagerError(
        'CONFIG',
        `${file}:${i + 1}: ${JSON.stringify(raw)} is not a process line, expected "name: command"`,
      )
    const name = m[1].toLowerCase()
    if (!NAME_PATTERN.test(name))
      throw new BackendManagerError(
        'CONFIG',
        `${file}:${i + 1}: "${m[1]}" cannot be a server name, expected letters, digits, "-" and "_", starting with a letter or digit`,
      )
    if (entries.some((e) => e.name === name))
      throw new BackendManagerError('CONFIG', `${file}:${i + 1}: "${name}" is named twice, expected each name once`)
    entries.push({ name, command: m[2].trim(), line: i + 1 })
  })
  if (entries.length === 0)
    throw new BackendManagerError('CONFIG', `${file} has no process lines, expected lines like "web: npm start"`)
  return entries
}

// $PORT becomes {port}; any other ${...} is kept for the shell ($${...}), not read as a config variable.
function commandOf(command: string): string {
  return command.replace(/\$\{PORT\}|\$PORT\b/g, '{port}').replace(/\$\{/g, '$$$${')
}

export function procfileConfig(entries: ProcfileEntry[], source: string, basePort = PROCFILE_BASE_PORT): Converted {
  const guesses: string[] = []
  const servers: string[] = []
  let root: string | undefined
  entries.forEach((e, i) => {
    const lines = [`  - name: ${e.name}`, `    command: ${JSON.stringify(commandOf(e.command))}`]
    if (!USES_PORT.test(e.command)) {
      guesses.push(`${e.name}: uses no $PORT, so a worker without a port (not behind the proxy)`)
    } else {
      const port = basePort + i * PORT_STEP
      lines.push(`    port: ${port}`, '    health: tcp')
      if (root === undefined) {
        root = e.name
        guesses.push(`${e.name}: $PORT became {port}, port ${port}; behind the proxy at "/" (health: tcp)`)
      } else {
        lines.push('    behind_proxy: false')
        guesses.push(`${e.name}: $PORT became {port}, port ${port}; reached on its own port, not through the proxy`)
      }
    }
    if (/\$\{/.test(e.command)) guesses.push(`${e.name}: \${...} kept for the shell, written $\${...}`)
    servers.push(lines.join('\n'))
  })
  const proxy = root
    ? ['proxy:', '  type: nginx', '  host: 127.0.0.1', '  port: 8000']
    : ['proxy:', '  type: none # no process uses $PORT: nothing to route']
  const header = [
    `# Converted from ${source} by "backend-manager init --from"; check these guesses, then run "backend-manager plan".`,
    ...guesses.map((g) => `#   ${g}`),
  ]
  return { text: [...header, '', ...proxy, '', 'servers:', servers.join('\n\n'), ''].join('\n'), guesses }
}
