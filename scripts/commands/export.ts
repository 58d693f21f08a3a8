// The `export` command: the stack's config written for another engine (lib/export/targets.ts lists them).
import fs from 'node:fs'
import path from 'node:path'
import { DEFAULT_CONFIG, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './export.meta.ts'
import { usageError } from '../../lib/core/errors.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { NAME_PATTERN } from '../../lib/config/validators.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import { EXPORT_TARGETS } from '../../lib/export/targets.ts'

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const [targetName, configArg] = positionals
  const target = Object.entries(EXPORT_TARGETS).find(
    ([n, t]) => n === targetName || t.aliases?.includes(targetName!),
  )?.[1]
  const known = Object.keys(EXPORT_TARGETS)
  if (!target)
    throw usageError(`export ${JSON.stringify(targetName ?? '')}: unknown target, expected one of ${known.join(', ')}`)
  if (values.mode !== undefined && !target.modes?.includes(values.mode))
    throw usageError(`--mode ${values.mode}: --mode is for export kubernetes (services, pod), not ${targetName}`)
  if (!values.output) throw usageError(`export ${targetName} needs -o DIR, the folder to write into`)
  const config = loadConfig(path.resolve(ctx.cwd, configArg ?? DEFAULT_CONFIG), { env: ctx.env })
  const name =
    values.name ??
    path
      .basename(config.dir)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
  if (!NAME_PATTERN.test(name))
    throw usageError(`--name ${JSON.stringify(name)} is not a usable name, expected lowercase letters, digits, "-"`)
  const dir = path.resolve(ctx.cwd, values.output)
  const nginx = findNginx(ctx.home, ctx.env)?.path ?? '/usr/sbin/nginx'
  const opts = { name, dir, nginx, ...(values.mode === undefined ? {} : { mode: values.mode }) }
  const files = target.render(resolvePlan(config), opts)
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), text)
  }
  target.prepare?.(files, opts)
  ctx.stdout.write(`wrote ${Object.keys(files).length} files to ${dir}\n`)
  ctx.stdout.write(`start: ${target.startHint(opts)}\n`)
  return 0
}
