// The `export` command: the stack's config written for another engine (systemd user units).
import fs from 'node:fs'
import path from 'node:path'
import { DEFAULT_CONFIG, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './export.meta.ts'
import { usageError } from '../../lib/core/errors.ts'
import { homeAt } from '../../lib/core/home.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { NAME_PATTERN } from '../../lib/config/validators.ts'
import { prepareNginxDirs } from '../../lib/proxy/nginx/render.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import { renderSystemdUnits } from '../../lib/export/systemd.ts'

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const [target, configArg] = positionals
  if (target !== 'systemd')
    throw usageError(`export ${JSON.stringify(target ?? '')}: unknown target, expected "systemd"`)
  if (!values.output) throw usageError('export systemd needs -o DIR, the folder to write the units into')
  const config = loadConfig(path.resolve(ctx.cwd, configArg ?? DEFAULT_CONFIG), { env: ctx.env })
  const name =
    values.name ??
    path
      .basename(config.dir)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
  if (!NAME_PATTERN.test(name))
    throw usageError(`--name ${JSON.stringify(name)} cannot start a unit name, expected lowercase letters, digits, "-"`)
  const dir = path.resolve(ctx.cwd, values.output)
  const nginx = findNginx(ctx.home, ctx.env)?.path ?? '/usr/sbin/nginx'
  const files = renderSystemdUnits(resolvePlan(config), { name, dir, nginx })
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), text)
  }
  if (Object.keys(files).some((f) => f.endsWith('nginx.conf'))) prepareNginxDirs(homeAt(dir))
  ctx.stdout.write(`wrote ${Object.keys(files).length} files to ${dir}\n`)
  ctx.stdout.write(
    `start: systemctl --user link ${dir}/*.service ${dir}/${name}.target && systemctl --user start ${name}.target\n`,
  )
  return 0
}
