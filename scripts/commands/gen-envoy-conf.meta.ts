// What gen-envoy-conf takes and says about itself; the run is in gen-envoy-conf.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'gen-envoy-conf',
  summary: 'render the Envoy config (--validate: envoy --mode validate, or without envoy its v3 API protos)',
  description: `Renders the Envoy config "start" would use for CONFIG with proxy.type envoy, with the paths of
the state folder (.local/ or $BACKEND_MANAGER_HOME). Prints it unless -o is given.`,
  args: [{ name: 'CONFIG', description: `the config file (default: ${DEFAULT_CONFIG})` }],
  flags: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write the config to FILE instead of stdout' },
    validate: {
      type: 'boolean',
      description: `run "envoy --mode validate" on it (with -o: on FILE; else on a copy in a temp folder);
        without an envoy binary, check it against Envoy's v3 API protos instead`,
    },
  },
})
