// What ls takes and says about itself; the run is in ls.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'ls',
  summary: 'every running stack of this user: home, config, supervisor, health',
  description: `Lists every stack this user runs, wherever it was started: its home (the state folder), config,
supervisor pid, and health (each stack's processes probed now, as "status" does). Stacks are
registered in $XDG_STATE_HOME/backend-manager (or ~/.local/state/backend-manager) at start and
removed at stop; entries of stacks that are gone are dropped when listed.`,
  flags: { json: { type: 'boolean', description: 'print it as JSON' } },
})
