// What stop takes and says about itself; the run is in stop.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'stop',
  summary: 'stop everything, wait until every port is released',
  description: `Stops the proxy first, then the servers in reverse dependency order: SIGTERM to each process
group, SIGKILL after its stop_timeout, then waits until every port is released and no process
of the stack is left. Works from any shell, also when the supervisor has died.`,
  flags: {
    force: {
      type: 'boolean',
      description: `also when the state file is damaged: finds the stack's processes by the home in their
        environment, stops them (SIGTERM, SIGKILL after 5 s) and removes the file`,
    },
    'port-offset': {
      type: 'string',
      value: 'N',
      description: `the copy of the stack meant: when the stack here runs with another port offset, nothing is
        stopped (exit 2)`,
    },
  },
})
