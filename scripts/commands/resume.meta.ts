// What resume takes and says about itself; the run is in resume.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'resume',
  summary: 'continue paused instances (SIGCONT), back in nginx once healthy',
  description: `Continues paused instances (SIGCONT to the whole process group) and puts each back in nginx's
rotation once it answers its health check. Instances that already run are left alone.`,
  args: [{ name: 'NAME|NAME-i', description: 'servers or instances to resume, one or more', repeated: true }],
})
