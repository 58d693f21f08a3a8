import type { Context } from '../../lib/cli.ts'
import { BackendManagerError } from '../../lib/errors.ts'

export const usage = 'Usage: backend-manager health'

export async function run(_args: string[], _ctx: Context): Promise<number> {
  throw new BackendManagerError('USAGE', 'health: not available yet')
}
