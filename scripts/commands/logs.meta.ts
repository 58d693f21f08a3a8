// What logs takes and says about itself; the run is in logs.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'logs',
  summary: 'show or follow the unified log, one server, or nginx; "logs clean" truncates',
  description: `Shows the last N lines (default 100) of the unified log (every process, each line prefixed with
its name-instance; ">>" for stdout, "!>" for stderr). Only log lines go to stdout, so the output
pipes into grep and wc; notes go to stderr.`,
  args: [
    {
      name: 'NAME|nginx',
      description: `NAME: only this server (all its instances) or this instance (name-instance);
        nginx: nginx's error log, then its access log (JSON);
        supervisor: the supervisor's events (spawn, ready, exit, restart, crash, reload)`,
    },
  ],
  flags: {
    follow: {
      type: 'boolean',
      short: 'f',
      description: 'keep following (across "logs clean" and rotation); Ctrl+C to stop',
    },
    lines: {
      type: 'string',
      short: 'n',
      value: 'N',
      description: 'how many lines to show first (default: 100; 0: none)',
    },
  },
  subcommands: {
    clean: { summary: 'truncate every log file in place and remove rotated copies; safe while running' },
  },
})
