// What init takes and says about itself; the run is in init.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'init',
  summary: 'write a commented starter config, or convert a Procfile',
  description: `Writes FILE (default: ${DEFAULT_CONFIG}): a starter config with every common key explained, or with
--from, one converted from a Procfile (foreman, honcho, overmind): each line a server, $PORT turned into {port} with
ports from 5000 in steps of 100 as foreman assigns them, lines without $PORT as workers without a port. It says what
it guessed. An existing FILE is never overwritten.`,
  args: [{ name: 'FILE', description: `the config file to write (default: ${DEFAULT_CONFIG})` }],
  flags: {
    from: { type: 'string', value: 'PROCFILE', description: 'convert this Procfile' },
    port: { type: 'string', value: 'N', description: 'the first port given to a Procfile process (default: 5000)' },
  },
})
