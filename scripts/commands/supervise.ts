import type { Context } from '../../lib/cli.ts'
import { BackendManagerError } from '../../lib/errors.ts'

export const usage = 'Usage: backend-manager supervise'

export async function run(_args: string[], _ctx: Context): Promise<number> {
  throw new BackendManagerError('USAGE', 'supervise: not available yet')
}
