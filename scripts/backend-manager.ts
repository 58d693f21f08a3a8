// The single entry point: global flags, then the command's own module (loaded lazily, so a quick
// command like `status` never pays for what `start` needs).
import { usageError, isKnownError } from '../lib/core/errors.ts'
import fs from 'node:fs'
import path from 'node:path'
import { packageRoot, resolveHome } from '../lib/core/home.ts'
import { asFileProblem } from '../lib/core/safe-files.ts'
import type { CommandModule, Context } from '../lib/cli/context.ts'

const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  start: {
    summary: 'start the stack detached; returns once every server is healthy',
    load: () => import('./commands/start.ts'),
  },
  stop: { summary: 'stop everything, wait until every port is released', load: () => import('./commands/stop.ts') },
  restart: { summary: 'stop, wait for port release, start', load: () => import('./commands/restart.ts') },
  status: {
    summary: 'a row per process: pid, port, state, health, uptime, cpu, memory',
    load: () => import('./commands/status.ts'),
  },
  ls: {
    summary: 'every running stack of this user: home, config, supervisor, health',
    load: () => import('./commands/ls.ts'),
  },
  health: {
    summary: 'probe every health endpoint directly and through the proxy',
    load: () => import('./commands/health.ts'),
  },
  logs: {
    summary: 'show or follow the unified log, one server, or nginx; "logs clean" truncates',
    load: () => import('./commands/logs.ts'),
  },
  plan: {
    summary: 'show what start would run: processes, ports, env, routes',
    load: () => import('./commands/plan.ts'),
  },
  'gen-nginx-conf': {
    summary: 'render the nginx config (--validate runs nginx -t)',
    load: () => import('./commands/gen-nginx-conf.ts'),
  },
  'install-nginx': {
    summary: 'install nginx into the state dir (no sudo)',
    load: () => import('./commands/install-nginx.ts'),
  },
  'check-nginx': {
    summary: 'say which nginx will be used and its version',
    load: () => import('./commands/check-nginx.ts'),
  },
  'gen-envoy-conf': {
    summary: 'render the Envoy config (--validate runs envoy --mode validate)',
    load: () => import('./commands/gen-envoy-conf.ts'),
  },
  'check-envoy': {
    summary: 'say which envoy will be used and where to get one',
    load: () => import('./commands/check-envoy.ts'),
  },
  simple: {
    summary: 'N identical workers on consecutive ports, no config file',
    load: () => import('./commands/simple.ts'),
  },
  supervise: { summary: '(internal) the detached supervisor', load: () => import('./commands/supervise.ts') },
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length))
  const rows = Object.entries(commands)
    .filter(([name]) => name !== 'supervise')
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return [
    'Usage: backend-manager <command> [options] [--home DIR]',
    '',
    'Commands:',
    ...rows,
    '',
    'Global options:',
    '  --home DIR   runtime state folder, anywhere on the line (default: $BACKEND_MANAGER_HOME, else the',
    '               nearest .local/ holding a stack from here upward, else ./.local)',
    '  --version    print the version',
    '  -h, --help   show help for backend-manager or a command',
  ].join('\n')
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
    ;(name === undefined ? process.stderr : process.stdout).write(usage() + '\n')
    return name === undefined ? 2 : 0
  }
  const command = commands[name]
  if (!command) throw usageError(`unknown command "${name}"\n\n${usage()}`)
  const mod = await command.load()
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(mod.usage.trimEnd() + '\n')
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
    return (await mod.run(argv, ctx)) ?? 0
  } catch (error) {
    // A bad flag or argument shows the command's usage with the error.
    if (isKnownError(error) && error.code === 'USAGE') throw usageError(`${error.message}\n\n${mod.usage.trimEnd()}`)
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
