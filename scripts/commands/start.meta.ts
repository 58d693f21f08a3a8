// What start takes and says about itself; the run is in start.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'start',
  summary: 'start the stack detached; returns once every server is healthy',
  description: `Checks the config and every port, starts the servers (each once what it depends_on is ready),
waits until each is healthy, starts the proxy last, and returns with everything running in the
background. While a server is not ready yet it says every few seconds what the last check saw. On
failure it names the process, shows this run's last log lines, stops what it started and exits 1.
A stack already running this config is left as it is (exit 0); another config is refused.`,
  args: [{ name: 'CONFIG', description: `the config file (default: ${DEFAULT_CONFIG})` }],
  flags: {
    only: { type: 'string', value: 'a,b', description: 'start only these servers (and what they depend on)' },
    layout: {
      type: 'string',
      choices: ['multi', 'single'],
      description: `multi: each server its own processes behind the proxy; single: one process of the server without
        modules serving every module on the proxy's port, no proxy (default: the config's layout:, else multi)`,
    },
    'port-offset': {
      type: 'string',
      value: 'N',
      description: `add N to every port of the config (proxy and server ports), to run a second copy beside the
        first (default: $BACKEND_MANAGER_PORT_OFFSET, else 0)`,
    },
    foreground: { type: 'boolean', description: 'stay in the terminal; Ctrl+C stops everything' },
    watch: {
      type: 'boolean',
      description: `restart each server with "watch:" when its files change (rolling); a task with
        "watch:" runs again`,
    },
    'no-wait': {
      type: 'boolean',
      description: `return at once; the background supervisor starts everything ("status" says which
        process failed and why if it does not come up)`,
    },
  },
})
