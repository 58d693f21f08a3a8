// What install-nginx takes and says about itself; the run is in install-nginx.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'install-nginx',
  summary: 'install nginx into the state dir (no sudo)',
  description: `Makes sure <dir>/bin/nginx works, without sudo. <dir> is the home given with --home or
$BACKEND_MANAGER_HOME, else the per-user cache shared by every stack ($XDG_CACHE_HOME/backend-manager/nginx,
else ~/.cache/backend-manager/nginx), where "start" also installs nginx on first use:
  1. keeps a working <dir>/bin/nginx;
  2. else links an nginx found on PATH or in /usr/sbin;
  3. else on Debian/Ubuntu downloads the nginx package with "apt-get download" and unpacks it
     into <dir>/nginx-pkg with "dpkg-deb -x" (as root it may run "apt-get update" first);
  4. else downloads the standalone build for this OS/arch from jirutka/nginx-binaries and
     checks its SHA-1 before installing it.
Also writes <dir>/conf/mime.types, which the generated config includes.`,
  flags: {
    'no-system': { type: 'boolean', description: 'skip nginx on PATH and in /usr/sbin: always install a private copy' },
  },
})
