// The `dashboard` command: asks the supervisor for its dashboard's URL and prints it (opens it only with --open).
import { spawn } from 'node:child_process'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './dashboard.meta.ts'
import { commandSupervisor } from '../../lib/stack/control-client.ts'

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const { url } = (await commandSupervisor(ctx.home, '/v1/dashboard')) as { url: string }
  ctx.stdout.write(`${url}\n`)
  if (values.open) {
    // The URL is passed as one argument, never through a shell.
    const opener = process.platform === 'darwin' ? 'open' : 'xdg-open'
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' })
    child.on('error', (error) => ctx.stderr.write(`could not run ${opener}: ${error.message}; open the URL yourself\n`))
    child.unref()
  }
  return 0
}
