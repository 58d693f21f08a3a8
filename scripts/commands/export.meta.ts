// What export takes and says about itself; the run is in export.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'export',
  summary: 'write the stack for another engine to run (systemd)',
  description: `Writes the stack for another engine to run, into DIR (created if missing; files there with the same
names are replaced). systemd: a template unit per server (NAME@PORT.service: one instance per port), one for the
generated nginx, and STACK.target, which starts them all:
  backend-manager export systemd -o ~/.config/systemd/user/mystack
then link or copy the units into ~/.config/systemd/user/ and run systemctl --user start STACK.target.`,
  args: [
    { name: 'TARGET', description: 'what to export to: systemd' },
    { name: 'CONFIG', description: `the config file (default: ${DEFAULT_CONFIG})` },
  ],
  flags: {
    output: { type: 'string', short: 'o', value: 'DIR', description: 'the folder to write into (required)' },
    name: { type: 'string', value: 'NAME', description: "the units' prefix (default: the config folder's name)" },
  },
})
