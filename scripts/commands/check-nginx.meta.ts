// What check-nginx takes and says about itself; the run is in check-nginx.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'check-nginx',
  summary: 'say which nginx will be used and its version',
  description: `Says which nginx "start" will use, its version and the mime.types file the config includes.
Looks in this order: <home>/bin/nginx, the repository's .local/bin/nginx, the per-user cache
($XDG_CACHE_HOME/backend-manager/nginx, else ~/.cache/backend-manager/nginx), nginx on PATH,
/usr/sbin/nginx. Exit 1 when there is none ("backend-manager install-nginx" installs one; "start"
installs one into the cache on first use).`,
  flags: {
    verify: { type: 'boolean', description: 'also run "nginx -t" on a small generated config in a temporary folder' },
  },
})
