// What status takes and says about itself; the run is in status.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'status',
  summary: 'a row per process: pid, port, state, health, uptime, cpu, memory',
  description: `One row per process (the supervisor, every server instance, the proxy): pid, port, state,
health (probed now), uptime, restarts, CPU% and memory summed over the process tree.
When the last start failed in the background (--no-wait), says which process, why, and its last
lines. Exit 0 when all are healthy, 1 when degraded or the last start failed, 3 when nothing is running.`,
  flags: {
    json: { type: 'boolean', description: 'print it as JSON' },
    watch: { type: 'boolean', description: 'the live view of "monitor", refreshed every second (q quits)' },
    'port-offset': {
      type: 'string',
      value: 'N',
      description: `the copy of the stack meant: a note when the stack here runs with another port offset
        (the ports shown are always the ones it runs on)`,
    },
  },
})
