// What scale takes and says about itself; the run is in scale.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'scale',
  summary: 'run N instances of a server of the running stack, without dropping a request',
  description: `Changes how many instances of each named server the running stack runs. New instances get the
next consecutive ports (checked free first) and get requests only once they are ready; the highest instances are
taken out of nginx's rotation, their requests in flight finish, then they stop. The new count stays (a supervisor
restart and a start of the same config keep it); "plan" shows it beside the config's.`,
  args: [
    {
      name: 'NAME=N ...',
      description: 'a server of the running stack and its new instance count, 1 to 256 (e.g. api=4)',
      repeated: true,
    },
  ],
})
