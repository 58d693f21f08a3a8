// What plan takes and says about itself; the run is in plan.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'plan',
  summary: 'show what start would run: processes, ports, env, routes',
  description: `Shows what "start" would do, without starting anything: every process (name-instance, port,
command, the environment it gets on top of yours) in start order, and every proxy route.`,
  args: [{ name: 'CONFIG', description: `the config file (default: ${DEFAULT_CONFIG})` }],
  flags: {
    only: { type: 'string', value: 'a,b', description: 'only these servers (and what they depend on)' },
    json: { type: 'boolean', description: 'print it as JSON' },
    layout: {
      type: 'string',
      choices: ['multi', 'single'],
      description: `show the plan for this layout (multi, or single: one process serving every module on the proxy's
        port, no proxy; default: the config's layout:, else multi)`,
    },
    'port-offset': {
      type: 'string',
      value: 'N',
      description: `add N to every port of the config (proxy and server ports), to run a second copy beside the
        first (default: $BACKEND_MANAGER_PORT_OFFSET, else 0)`,
    },
  },
})
