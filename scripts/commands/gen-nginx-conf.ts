// The `gen-nginx-conf` command: the nginx config a start would write, printed or saved, and optionally checked.
import { DEFAULT_CONFIG, emitRendered, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './gen-nginx-conf.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { portOffsetOf } from '../../lib/config/port-offset.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { prepareNginxDirs, renderNginxConf } from '../../lib/proxy/nginx/render.ts'
import {
  findNginx,
  installAdvice,
  mimeTypesFor,
  testNginxConf,
  testPlanInTempHome,
} from '../../lib/proxy/nginx/install.ts'
import type { ConfCheck } from '../../lib/proxy/conf-check.ts'
import { resolvePlan } from '../../lib/config/plan.ts'

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const config = loadConfig(positionals[0] ?? DEFAULT_CONFIG, {
    env: ctx.env,
    portOffset: portOffsetOf(undefined, ctx.env),
    // The proxy's config is the multi layout's: the single layout runs no proxy.
    layout: 'multi',
  })
  if (config.proxy.type !== 'nginx')
    ctx.stderr.write(
      `note: ${config.file} has proxy.type "${config.proxy.type}"; "start" will not run this nginx config\n`,
    )
  const plan = resolvePlan(config)
  const nginx = findNginx(ctx.home, ctx.env)
  if (values.validate && !nginx)
    throw new BackendManagerError('NGINX', `no working nginx to validate with; ${installAdvice()}`)
  const text = renderNginxConf(plan, ctx.home, { mimeTypes: nginx ? mimeTypesFor(nginx.path) : undefined })
  const file = emitRendered(text, values.output, ctx)
  let result: ConfCheck | undefined
  if (values.validate && file) {
    prepareNginxDirs(ctx.home)
    result = testNginxConf(nginx!, ctx.home, file, ctx.env)
  } else if (values.validate) result = testPlanInTempHome(nginx!, plan, ctx.env)
  if (result && !result.ok)
    throw new BackendManagerError('NGINX', `nginx -t rejected the config for ${config.file}:\n${result.output}`)
  if (result) ctx.stderr.write(`nginx -t: configuration for ${config.file} is valid (nginx ${nginx!.version})\n`)
  return 0
}
