// The single entry point: global flags, then the command's own module (loaded lazily, so a quick
// command like `status` never pays for what `start` needs).
import { usageError, isKnownError } from '../lib/core/errors.ts'
import fs from 'node:fs'
import path from 'node:path'
import { packageRoot, resolveHome } from '../lib/core/home.ts'
import { asFileProblem } from '../lib/core/safe-files.ts'
import type { Context } from '../lib/cli/context.ts'
import {
  chosenSubcommand,
  lazyCommand as command,
  parseCommand,
  wantsHelp,
  type CommandEntry,
} from '../lib/cli/command.ts'

// Each command declares itself in a small module of its own; its run module loads only when it runs.
const commands: Record<string, CommandEntry> = {
  start: command(
    () => import('./commands/start.meta.ts'),
    () => import('./commands/start.ts'),
  ),
  stop: command(
    () => import('./commands/stop.meta.ts'),
    () => import('./commands/stop.ts'),
  ),
  restart: command(
    () => import('./commands/restart.meta.ts'),
    () => import('./commands/restart.ts'),
  ),
  status: command(
    () => import('./commands/status.meta.ts'),
    () => import('./commands/status.ts'),
  ),
  ls: command(
    () => import('./commands/ls.meta.ts'),
    () => import('./commands/ls.ts'),
  ),
  health: command(
    () => import('./commands/health.meta.ts'),
    () => import('./commands/health.ts'),
  ),
  logs: command(
    () => import('./commands/logs.meta.ts'),
    () => import('./commands/logs.ts'),
  ),
  plan: command(
    () => import('./commands/plan.meta.ts'),
    () => import('./commands/plan.ts'),
  ),
  'gen-nginx-conf': command(
    () => import('./commands/gen-nginx-conf.meta.ts'),
    () => import('./commands/gen-nginx-conf.ts'),
  ),
  'install-nginx': command(
    () => import('./commands/install-nginx.meta.ts'),
    () => import('./commands/install-nginx.ts'),
  ),
  'check-nginx': command(
    () => import('./commands/check-nginx.meta.ts'),
    () => import('./commands/check-nginx.ts'),
  ),
  'gen-envoy-conf': command(
    () => import('./commands/gen-envoy-conf.meta.ts'),
    () => import('./commands/gen-envoy-conf.ts'),
  ),
  'check-envoy': command(
    () => import('./commands/check-envoy.meta.ts'),
    () => import('./commands/check-envoy.ts'),
  ),
  simple: command(
    () => import('./commands/simple.meta.ts'),
    () => import('./commands/simple.ts'),
  ),
  supervise: command(
    () => import('./commands/supervise.meta.ts'),
    () => import('./commands/supervise.ts'),
  ),
}

const GLOBAL_OPTIONS: [string, string][] = [
  [
    '--home DIR',
    `runtime state folder, anywhere on the line (default: $BACKEND_MANAGER_HOME, else the nearest .local/
    holding a stack from here upward, else ./.local)`,
  ],
  ['--version', 'print the version'],
  ['-h, --help', 'show help for backend-manager or a command'],
]

// The command list needs every declaration (small modules, loaded only for help and errors).
async function programHelp(): Promise<string> {
  const help = await import('../lib/cli/help.ts')
  return help.programHelp(await Promise.all(Object.values(commands).map((c) => c.decl())), GLOBAL_OPTIONS)
}

// Global flags may come anywhere before a "--" (after it, words belong to a command being run).
function takeGlobalFlags(argv: string[]): { homeFlag?: string; version: boolean } {
  let homeFlag: string | undefined
  let version = false
  for (let i = 0; i < argv.length && argv[i] !== '--';) {
    const arg = argv[i]
    if (arg === '--version') {
      version = true
      argv.splice(i, 1)
    } else if (arg === '--home' || arg.startsWith('--home=')) {
      const value = arg === '--home' ? argv[i + 1] : arg.slice('--home='.length)
      if (!value || value === '--')
        throw usageError('--home: expected a folder path, as in "--home DIR" or "--home=DIR"')
      homeFlag = value
      argv.splice(i, arg === '--home' ? 2 : 1)
    } else i++
  }
  return { homeFlag, version }
}

async function main(argv: string[]): Promise<number> {
  const { homeFlag, version } = takeGlobalFlags(argv)
  if (version) {
    process.stdout.write(`${JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version}\n`)
    return 0
  }
  const name = argv.shift()
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    ;(name === undefined ? process.stderr : process.stdout).write((await programHelp()) + '\n')
    return name === undefined ? 2 : 0
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!entry) {
    const { unknownCommand } = await import('../lib/cli/help.ts')
    const decls = await Promise.all(Object.values(commands).map((c) => c.decl()))
    throw unknownCommand(name, decls, await programHelp())
  }
  const decl = await entry.decl()
  // The help of the subcommand named, else of the command.
  const help = async () => (await import('../lib/cli/help.ts')).commandHelp(decl, chosenSubcommand(decl, argv))
  if (wantsHelp(argv)) {
    process.stdout.write((await help()) + '\n')
    return 0
  }
  const ctx: Context = {
    env: process.env,
    cwd: process.cwd(),
    home: resolveHome(process.env, process.cwd(), homeFlag),
    stdout: process.stdout,
    stderr: process.stderr,
  }
  try {
    const parsed = parseCommand(decl, argv)
    const mod = await entry.load()
    return (await mod.run(parsed, ctx)) ?? 0
  } catch (error) {
    // A bad flag or argument shows the command's usage with the error.
    if (isKnownError(error) && error.code === 'USAGE') throw usageError(`${error.message}\n\n${await help()}`)
    throw error
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (thrown: unknown) => {
    // A file the home refused (read-only, full, a link) is said plainly, without a stack trace.
    const error = asFileProblem(thrown)
    if (isKnownError(error)) {
      process.stderr.write(`Error: ${error.message}\n`)
      process.exitCode = error.exitCode
    } else {
      process.stderr.write(
        `Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
      process.exitCode = 1
    }
  },
)
