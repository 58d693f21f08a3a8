import { DEFAULT_CONFIG, emitRendered, parseFlags, type Context } from '../../lib/cli/context.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { prepareNginxDirs, renderNginxConf } from '../../lib/proxy/nginx/render.ts'
import {
  findNginx,
  installAdvice,
  mimeTypesFor,
  testNginxConf,
  testPlanInTempHome,
  type ConfTest,
} from '../../lib/proxy/nginx/install.ts'
import { resolvePlan } from '../../lib/config/plan.ts'

export const usage = `Usage: backend-manager gen-nginx-conf [CONFIG] [-o FILE] [--validate]

Renders the nginx config "start" would use for CONFIG (default ${DEFAULT_CONFIG}), with the
paths of the state folder (.local/ or $BACKEND_MANAGER_HOME). Prints it unless -o is given.

Options:
  -o, --output FILE   write the config to FILE instead of stdout
  --validate          run "nginx -t" on it and show nginx's own message if it is rejected
                      (with -o: on FILE with the state folder as prefix; else in a temp folder)`

export async function run(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseFlags('gen-nginx-conf', args, {
    output: { type: 'string', short: 'o' },
    validate: { type: 'boolean' },
  })
  const config = loadConfig(positionals[0] ?? DEFAULT_CONFIG)
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
  let result: ConfTest | undefined
  if (values.validate && file) {
    prepareNginxDirs(ctx.home)
    result = testNginxConf(nginx!, ctx.home, file, ctx.env)
  } else if (values.validate) result = testPlanInTempHome(nginx!, plan, ctx.env)
  if (result && !result.ok)
    throw new BackendManagerError('NGINX', `nginx -t rejected the config for ${config.file}:\n${result.output}`)
  if (result) ctx.stderr.write(`nginx -t: configuration for ${config.file} is valid (nginx ${nginx!.version})\n`)
  return 0
}
