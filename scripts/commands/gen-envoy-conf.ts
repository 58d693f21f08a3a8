// The `gen-envoy-conf` command: the Envoy config a start would write, printed or saved, and optionally validated.
import { DEFAULT_CONFIG, emitRendered, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './gen-envoy-conf.meta.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { portOffsetOf } from '../../lib/config/port-offset.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { renderEnvoyConf } from '../../lib/proxy/envoy/render.ts'
import { findEnvoy, validateEnvoyConf, validatePlanInTempHome } from '../../lib/proxy/envoy/binary.ts'
import { checkEnvoyConfText } from '../../lib/proxy/envoy/proto-check.ts'
import type { ConfCheck } from '../../lib/proxy/conf-check.ts'
import { ensureHome } from '../../lib/core/home.ts'
import { resolvePlan } from '../../lib/config/plan.ts'

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const config = loadConfig(positionals[0] ?? DEFAULT_CONFIG, {
    env: ctx.env,
    portOffset: portOffsetOf(undefined, ctx.env),
    // The proxy's config is the multi layout's: the single layout runs no proxy.
    layout: 'multi',
  })
  if (config.proxy.type !== 'envoy')
    ctx.stderr.write(
      `note: ${config.file} has proxy.type "${config.proxy.type}"; "start" will not run this Envoy config\n`,
    )
  const plan = resolvePlan({ ...config, proxy: { ...config.proxy, type: 'envoy' } })
  const envoy = values.validate ? findEnvoy(ctx.home, ctx.env) : undefined
  const text = renderEnvoyConf(plan, ctx.home)
  const file = emitRendered(text, values.output, ctx)
  if (values.validate && !envoy) return checkAgainstProtos(text, config.file, ctx)
  let result: ConfCheck | undefined
  if (envoy && file) {
    ensureHome(ctx.home)
    result = validateEnvoyConf(envoy, file, ctx.env)
  } else if (envoy) result = validatePlanInTempHome(envoy, plan, ctx.env)
  if (result && !result.ok)
    throw new BackendManagerError(
      'CONFIG',
      `envoy --mode validate rejected the config for ${config.file}:\n${result.output}`,
    )
  if (result)
    ctx.stderr.write(`envoy --mode validate: configuration for ${config.file} is valid (envoy ${envoy!.version})\n`)
  return 0
}

// No envoy binary here: the config is checked against Envoy's v3 API protos instead, and says which check ran.
function checkAgainstProtos(text: string, configFile: string, ctx: Context): number {
  const problems = checkEnvoyConfText(text)
  const which = "Envoy's v3 API protos (no envoy binary found for envoy --mode validate)"
  if (problems.length)
    throw new BackendManagerError('CONFIG', `${which} refuse the config for ${configFile}:\n${problems.join('\n')}`)
  ctx.stderr.write(`checked against ${which}: configuration for ${configFile} is valid\n`)
  return 0
}
