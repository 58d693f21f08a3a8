// What supervise says about itself; the run is in supervise.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'supervise',
  summary: '(internal) the detached supervisor',
  description: 'Internal: started by "start"; runs detached and supervises the stack recorded in the state file.',
  hidden: true,
})
