// What gen-nginx-conf takes and says about itself; the run is in gen-nginx-conf.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'gen-nginx-conf',
  summary: 'render the nginx config (--validate runs nginx -t)',
  description: `Renders the nginx config "start" would use for CONFIG, with the paths of the state folder
(.local/ or $BACKEND_MANAGER_HOME). Prints it unless -o is given.`,
  args: [{ name: 'CONFIG', description: `the config file (default: ${DEFAULT_CONFIG})` }],
  flags: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write the config to FILE instead of stdout' },
    validate: {
      type: 'boolean',
      description: `run "nginx -t" on it and show nginx's own message if it is rejected
        (with -o: on FILE with the state folder as prefix; else in a temp folder)`,
    },
  },
})
