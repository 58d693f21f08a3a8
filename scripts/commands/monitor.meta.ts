// What monitor takes and says about itself; the run is in monitor.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'monitor',
  summary: 'a live full-screen view of the running stack: processes, requests per upstream, events; keys act',
  description: `Refreshed about once a second: a row per process (state, health, CPU, memory, restarts,
uptime), requests/s and p50/p99 per upstream from nginx's access log, the last log line of the
selected process and the recent supervisor events. Keys: arrows or j/k select, r restarts the selected
instance (rolling), p pauses or resumes it, + and - scale its server, l follows its log (q or Esc back),
q quits. On a pipe, with NO_COLOR or TERM=dumb it prints a plain block of lines per refresh instead;
Ctrl+C ends it. "status --watch" is the same view.`,
})
