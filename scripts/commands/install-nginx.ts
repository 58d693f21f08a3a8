// The `install-nginx` command: a working nginx in the home or the per-user cache, without sudo.
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './install-nginx.meta.ts'
import { installNginx, nginxCacheHome } from '../../lib/proxy/nginx/install.ts'

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
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
