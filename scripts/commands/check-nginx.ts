// The `check-nginx` command: which nginx the stack would use, its version and mime.types; --verify runs nginx -t.
import os from 'node:os'
import path from 'node:path'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './check-nginx.meta.ts'
import { parseConfig } from '../../lib/config/load.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import {
  findNginx,
  installAdvice,
  mimeTypesFor,
  nginxCacheHome,
  SHARED_NGINX,
  SYSTEM_NGINX,
  testPlanInTempHome,
} from '../../lib/proxy/nginx/install.ts'
import { resolvePlan } from '../../lib/config/plan.ts'

// Small but complete: a root server, a module with its WebSocket route, two instances.
const VERIFY_CONFIG = `proxy: { host: 127.0.0.1, port: 18000 }
servers:
  - { name: core, command: "true", port: 18001 }
  - { name: api, command: "true", port: 18002, instances: 2, modules: [api] }
`

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const nginx = findNginx(ctx.home, ctx.env)
  if (!nginx) {
    const looked = [
      ...new Set([path.join(ctx.home.bin, 'nginx'), SHARED_NGINX, path.join(nginxCacheHome(ctx.env).bin, 'nginx')]),
    ].concat('nginx on PATH', SYSTEM_NGINX)
    throw new BackendManagerError(
      'NGINX',
      `no working nginx found (looked at ${looked.join(', ')}); ${installAdvice()}, or just "start": it installs nginx on first use`,
    )
  }
  const mime = mimeTypesFor(nginx.path)
  ctx.stdout.write(
    `nginx:      ${nginx.path}\n` +
      `source:     ${nginx.source}\n` +
      `version:    ${nginx.version}\n` +
      `mime.types: ${mime ?? '(none; the config uses a small built-in table)'}\n`,
  )
  if (!values.verify) return 0
  const plan = resolvePlan(parseConfig(VERIFY_CONFIG, path.join(os.tmpdir(), 'verify.yaml')))
  const result = testPlanInTempHome(nginx, plan, ctx.env)
  if (!result.ok) throw new BackendManagerError('NGINX', `nginx -t rejected a generated config:\n${result.output}`)
  ctx.stdout.write('nginx -t:   ok\n')
  return 0
}
