import fs from 'node:fs'
import { parseFlags, type Context } from '../../lib/cli.ts'
import { noStackHere } from '../../lib/registry.ts'
import { stopStack } from '../../lib/teardown.ts'
import { printStopReport } from '../../lib/progress.ts'

export const usage = `Usage: backend-manager stop

Stops the proxy first, then the servers in reverse dependency order: SIGTERM to each process
group, SIGKILL after its stop_timeout, then waits until every port is released and no process
of the stack is left. Works from any shell, also when the supervisor has died.`

export async function run(args: string[], ctx: Context): Promise<number> {
  parseFlags('stop', args, {}, 0)
  // Where no stack ever ran, nothing is created (not even the lock's folder).
  const io = { home: ctx.home, env: ctx.env, notice: (line: string) => ctx.stderr.write(`${line}\n`) }
  const result = fs.existsSync(ctx.home.run) ? await stopStack(io, (what) => ctx.stderr.write(`waiting for ${what}\n`)) : undefined
  if (!result?.wasRunning) {
    ctx.stdout.write(`${noStackHere(ctx.home, ctx.env)}\n`)
    return 0
  }
  return printStopReport(result, ctx.stdout, ctx.stderr)
}
