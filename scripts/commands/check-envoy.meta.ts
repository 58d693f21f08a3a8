// What check-envoy takes and says about itself; the run is in check-envoy.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'check-envoy',
  summary: 'say which envoy will be used and where to get one',
  description: `Says which envoy "start" will use for proxy.type envoy, and its version. Looks in this order:
<home>/bin/envoy, the repository's .local/bin/envoy, envoy on PATH. Exit 1 when there is none,
with where to get one (there is no installer: Envoy ships no portable standalone build that
could be verified here).`,
  flags: {
    verify: {
      type: 'boolean',
      description: 'also run "envoy --mode validate" on a small generated config in a temporary folder',
    },
  },
})
