// What restart takes and says about itself; the run is in restart.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'restart',
  summary: 'stop, wait for port release, start',
  description: `Stops, waits until every port is released, and starts again. With --only, restarts exactly those
servers (not what they depend on) and leaves everything else running.`,
  args: [
    {
      name: 'CONFIG',
      description: `the config file (default: the running stack's config; with nothing running here,
        give CONFIG, e.g. ${DEFAULT_CONFIG})`,
    },
  ],
  flags: {
    only: {
      type: 'string',
      value: 'a,b',
      description: 'restart exactly these servers (not what they depend on); the rest keeps running',
    },
  },
})
