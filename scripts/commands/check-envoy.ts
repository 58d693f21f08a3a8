import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './check-envoy.meta.ts'
import { parseConfig } from '../../lib/config/load.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { envoyPaths, renderEnvoyConf } from '../../lib/proxy/envoy/render.ts'
import { requireEnvoy, validateEnvoyConf } from '../../lib/proxy/envoy/binary.ts'
import { resolveHome } from '../../lib/core/home.ts'
import { resolvePlan } from '../../lib/config/plan.ts'

// Small but complete: HTTP path routing with a WebSocket route, two instances, a gRPC server.
const VERIFY_CONFIG = `proxy: { type: envoy, host: 127.0.0.1, port: 18000, grpc_port: 18051, admin_port: 18901 }
servers:
  - { name: core, command: "true", port: 18001, health: /health }
  - { name: api, command: "true", port: 18002, instances: 2, modules: [api] }
  - { name: rpc, command: "true", port: 18055, protocol: grpc }
`

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const envoy = requireEnvoy(ctx.home, ctx.env)
  ctx.stdout.write(`envoy:      ${envoy.path}\nsource:     ${envoy.source}\nversion:    ${envoy.version}\n`)
  if (!values.verify) return 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-manager-envoy-verify-'))
  try {
    const home = resolveHome({}, dir, dir)
    for (const d of [home.run, home.logs]) fs.mkdirSync(d, { recursive: true })
    const conf = envoyPaths(home).conf
    fs.writeFileSync(
      conf,
      renderEnvoyConf(resolvePlan(parseConfig(VERIFY_CONFIG, path.join(dir, 'verify.yaml'))), home),
    )
    const result = validateEnvoyConf(envoy, conf, ctx.env)
    if (!result.ok)
      throw new BackendManagerError('NOT_FOUND', `envoy --mode validate rejected a generated config:\n${result.output}`)
    ctx.stdout.write('validate:   ok\n')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return 0
}
