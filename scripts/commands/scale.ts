// The `scale` command: asks the running stack's supervisor to scale servers (POST /v1/scale) and says what changed.
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './scale.meta.ts'
import { commandSupervisor } from '../../lib/stack/control-client.ts'
import { countsFromWords, type ScaleChange } from '../../lib/stack/scale.ts'

const span = (ports: number[]) =>
  ports.length === 0 ? '' : ports.length === 1 ? ` on port ${ports[0]}` : ` on ports ${ports[0]}-${ports.at(-1)}`

export async function run({ positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const servers = countsFromWords(positionals)
  const started = Date.now()
  const answer = await commandSupervisor(ctx.home, '/v1/scale', { servers })
  const ms = Date.now() - started
  for (const c of answer.servers as ScaleChange[]) {
    const what = [
      c.started.length && `started ${c.started.join(', ')}`,
      c.stopped.length && `stopped ${c.stopped.join(', ')}`,
    ]
    const done = what.filter(Boolean).join('; ') || 'already ran that many'
    ctx.stdout.write(`scaled ${c.server} from ${c.from} to ${c.to}${span(c.ports)} in ${ms} ms (${done})\n`)
  }
  return 0
}
