// What dashboard takes and says about itself; the run is in dashboard.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'dashboard',
  summary: 'print the URL of a live web page of the running stack (status, log, restart/pause/scale)',
  description: `Asks the running supervisor to serve its dashboard (started on first use, on 127.0.0.1 and a
free port) and prints its URL. The URL holds a random token: anything without it gets 401, so keep
it to yourself. The page shows the status table and the unified log live (filter per server), the
supervisor's events and requests per second per upstream, with buttons to restart, pause, resume
and scale. Every file it needs ships in the package: it works offline. A browser opens only with --open.`,
  flags: {
    open: { type: 'boolean', description: 'also open the URL in the default browser (xdg-open or open)' },
  },
})
