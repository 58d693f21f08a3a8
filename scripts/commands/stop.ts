import { parseFlags, type Context } from '../../lib/cli.ts'
import { stopStack } from '../../lib/teardown.ts'
import { printStopReport } from '../../lib/progress.ts'

export const usage = `Usage: backend-manager stop

Stops the proxy first, then the servers in reverse dependency order: SIGTERM to each process
group, SIGKILL after its stop_timeout, then waits until every port is released and no process
of the stack is left. Works from any shell, also when the supervisor has died.`

export async function run(args: string[], ctx: Context): Promise<number> {
  parseFlags('stop', args, {}, 0)
  const result = await stopStack({ home: ctx.home, notice: (line) => ctx.stderr.write(`${line}\n`) }, (what) => ctx.stderr.write(`waiting for ${what}\n`))
  return printStopReport(result, ctx.stdout, ctx.stderr)
}
