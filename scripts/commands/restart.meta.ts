// What restart takes and says about itself; the run is in restart.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'restart',
  summary: 'restart the stack in place, one instance at a time (or stop, then start)',
  description: `On a running stack with the same config, its supervisor restarts every instance in place, one at a
time, each out of nginx's rotation while another instance serves (nginx is reloaded, not restarted); with another
config (or no supervisor), stops, waits until every port is released, and starts again. With --only, restarts
exactly those servers (not what they depend on), or one instance given as NAME-i, and leaves everything else
running.`,
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
      description: 'restart exactly these servers, or instances (NAME-i); the rest keeps running',
    },
    layout: {
      type: 'string',
      choices: ['multi', 'single'],
      description: `restart in this layout (multi, or single: one process serving every module on the proxy's port, no
        proxy; default: the running stack's, else the config's layout:)`,
    },
    'port-offset': {
      type: 'string',
      value: 'N',
      description: `add N to every port of the config (proxy and server ports), to run a second copy beside the
        first (default: $BACKEND_MANAGER_PORT_OFFSET, else the running stack's)`,
    },
  },
})
