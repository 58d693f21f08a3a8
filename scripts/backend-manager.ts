// The single entry point: global flags, then the command's own module (loaded lazily, so a quick
// command like `status` never pays for what `start` needs).
import { usageError, isKnownError } from '../lib/core/errors.ts'
import fs from 'node:fs'
import path from 'node:path'
import { packageRoot, resolveHome } from '../lib/core/home.ts'
import { asFileProblem } from '../lib/core/safe-files.ts'
import type { Context } from '../lib/cli/context.ts'
import type { CommandDecl } from '../lib/cli/command.ts'
import { chosenSubcommand, commandTable, parseCommand, wantsHelp } from '../lib/cli/command.ts'

// Each command declares itself in a small module of its own; its run module loads only when it runs.
const commands = commandTable({
  start: { decl: () => import('./commands/start.meta.ts'), load: () => import('./commands/start.ts') },
  stop: { decl: () => import('./commands/stop.meta.ts'), load: () => import('./commands/stop.ts') },
  restart: { decl: () => import('./commands/restart.meta.ts'), load: () => import('./commands/restart.ts') },
  scale: { decl: () => import('./commands/scale.meta.ts'), load: () => import('./commands/scale.ts') },
  pause: { decl: () => import('./commands/pause.meta.ts'), load: () => import('./commands/pause.ts') },
  resume: { decl: () => import('./commands/resume.meta.ts'), load: () => import('./commands/resume.ts') },
  apply: { decl: () => import('./commands/apply.meta.ts'), load: () => import('./commands/apply.ts') },
  status: { decl: () => import('./commands/status.meta.ts'), load: () => import('./commands/status.ts') },
  monitor: { decl: () => import('./commands/monitor.meta.ts'), load: () => import('./commands/monitor.ts') },
  ls: { decl: () => import('./commands/ls.meta.ts'), load: () => import('./commands/ls.ts') },
  health: { decl: () => import('./commands/health.meta.ts'), load: () => import('./commands/health.ts') },
  logs: { decl: () => import('./commands/logs.meta.ts'), load: () => import('./commands/logs.ts') },
  plan: { decl: () => import('./commands/plan.meta.ts'), load: () => import('./commands/plan.ts') },
  mcp: { decl: () => import('./commands/mcp.meta.ts'), load: () => import('./commands/mcp.ts') },
  dashboard: {
    decl: () => import('./commands/dashboard.meta.ts'),
    load: () => import('./commands/dashboard.ts'),
  },
  'gen-nginx-conf': {
    decl: () => import('./commands/gen-nginx-conf.meta.ts'),
    load: () => import('./commands/gen-nginx-conf.ts'),
  },
  'install-nginx': {
    decl: () => import('./commands/install-nginx.meta.ts'),
    load: () => import('./commands/install-nginx.ts'),
  },
  'check-nginx': {
    decl: () => import('./commands/check-nginx.meta.ts'),
    load: () => import('./commands/check-nginx.ts'),
  },
  'gen-envoy-conf': {
    decl: () => import('./commands/gen-envoy-conf.meta.ts'),
    load: () => import('./commands/gen-envoy-conf.ts'),
  },
  'check-envoy': {
    decl: () => import('./commands/check-envoy.meta.ts'),
    load: () => import('./commands/check-envoy.ts'),
  },
  schema: { decl: () => import('./commands/schema.meta.ts'), load: () => import('./commands/schema.ts') },
  init: { decl: () => import('./commands/init.meta.ts'), load: () => import('./commands/init.ts') },
  export: { decl: () => import('./commands/export.meta.ts'), load: () => import('./commands/export.ts') },
  completion: {
    decl: () => import('./commands/completion.meta.ts'),
    load: async () => ({ run: (await import('./commands/completion.ts')).completionRun(declarations) }),
  },
  simple: { decl: () => import('./commands/simple.meta.ts'), load: () => import('./commands/simple.ts') },
  supervise: { decl: () => import('./commands/supervise.meta.ts'), load: () => import('./commands/supervise.ts') },
})

// Every command's declaration, for the command list and the completion scripts.
function declarations(): Promise<CommandDecl[]> {
  return Promise.all(Object.values(commands).map((c) => c.decl()))
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
    if (parsed.help) {
      process.stdout.write((await help()) + '\n')
      return 0
    }
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
