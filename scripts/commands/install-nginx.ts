import { parseFlags, type Context } from '../../lib/cli/context.ts'
import { installNginx, nginxCacheHome } from '../../lib/proxy/nginx/install.ts'

export const usage = `Usage: backend-manager install-nginx [--no-system]

Makes sure <dir>/bin/nginx works, without sudo. <dir> is the home given with --home or
$BACKEND_MANAGER_HOME, else the per-user cache shared by every stack ($XDG_CACHE_HOME/backend-manager/nginx,
else ~/.cache/backend-manager/nginx), where "start" also installs nginx on first use:
  1. keeps a working <dir>/bin/nginx;
  2. else links an nginx found on PATH or in /usr/sbin;
  3. else on Debian/Ubuntu downloads the nginx package with "apt-get download" and unpacks it
     into <dir>/nginx-pkg with "dpkg-deb -x" (as root it may run "apt-get update" first);
  4. else downloads the standalone build for this OS/arch from jirutka/nginx-binaries and
     checks its SHA-1 before installing it.
Also writes <dir>/conf/mime.types, which the generated config includes.

Options:
  --no-system   skip nginx on PATH and in /usr/sbin: always install a private copy`

export async function run(args: string[], ctx: Context): Promise<number> {
  const { values } = parseFlags('install-nginx', args, { 'no-system': { type: 'boolean' } }, 0)
  const log = (line: string) => ctx.stderr.write(`install-nginx: ${line}\n`)
  const explicit = ctx.home.origin === 'flag' || ctx.home.origin === 'env'
  const installed = await installNginx(explicit ? ctx.home : nginxCacheHome(ctx.env), ctx.env, log, {
    system: !values['no-system'],
  })
  // Run by every Make target: a working nginx gets one short line, an install says what it did.
  if (installed.source === 'kept') ctx.stdout.write(`nginx ${installed.version} already installed: ${installed.path}\n`)
  else
    ctx.stdout.write(
      `nginx ${installed.version} ready: ${installed.path} (${installed.source})\nmime.types: ${installed.mimeTypes}\n`,
    )
  return 0
}
