// What apply takes and says about itself; the run is in apply.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'apply',
  summary: 'change the running stack to a config: start, stop and restart only what differs',
  description: `Compares the running stack with CONFIG and prints what differs: servers added, removed and changed
(and why), and the proxy's routes and upstreams. Then starts what was added (each ready before the proxy sends it
anything), takes the new routes with one graceful nginx reload, stops what was removed once it is out of rotation,
and restarts changed instances one at a time. What did not change keeps running, untouched. A bad config is
refused before anything changes (exit 2); a change of where the proxy listens (its type, host or ports) needs
"restart". The stack keeps the layout it runs ("restart --layout" changes it).`,
  args: [
    {
      name: 'CONFIG',
      description: "the config file (default: the running stack's config, to take what changed in it)",
    },
  ],
  flags: {
    'dry-run': { type: 'boolean', description: 'print what would change and change nothing' },
    'port-offset': {
      type: 'string',
      value: 'N',
      description: `add N to every port of the config (proxy and server ports), to run a second copy beside the
        first (default: $BACKEND_MANAGER_PORT_OFFSET, else the running stack's)`,
    },
  },
})
