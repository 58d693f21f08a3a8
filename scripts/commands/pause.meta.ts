// What pause takes and says about itself; the run is in pause.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'pause',
  summary: 'take instances out of nginx and stop them (SIGSTOP) until "resume"',
  description: `Pauses every instance of the named servers, or single instances (NAME-i): each is taken out of
nginx's rotation first (graceful reload; its in-flight requests finish), then its whole process group
gets SIGSTOP. A paused instance keeps its memory, pid and port; it is never restarted, "status"
shows it as paused, and it stays paused across a supervisor restart. Behind nginx a server with
every instance paused answers 502 at once. "resume" continues it; "restart" starts it afresh.`,
  args: [{ name: 'NAME|NAME-i', description: 'servers or instances to pause, one or more', repeated: true }],
})
