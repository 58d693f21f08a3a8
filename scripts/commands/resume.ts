// The `resume` command: asks the supervisor to continue paused instances and says what it did.
import { usageError } from '../../lib/core/errors.ts'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './resume.meta.ts'
import { commandSupervisor } from '../../lib/stack/control-client.ts'
import { describePauseAnswer, type PauseAnswer } from '../../lib/stack/pause.ts'

export async function run({ positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  if (positionals.length === 0) throw usageError('resume: expected a server name or an instance (NAME-i)')
  const answer = await commandSupervisor(ctx.home, '/v1/resume', { targets: positionals })
  ctx.stdout.write(describePauseAnswer(answer as unknown as PauseAnswer, 'resumed'))
  return 0
}
