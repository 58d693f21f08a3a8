// The `check-envoy` command: which envoy the stack would use and its version; --verify validates a sample config.
import os from 'node:os'
import path from 'node:path'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './check-envoy.meta.ts'
import { parseConfig } from '../../lib/config/load.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { requireEnvoy, validatePlanInTempHome } from '../../lib/proxy/envoy/binary.ts'
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
  const plan = resolvePlan(parseConfig(VERIFY_CONFIG, path.join(os.tmpdir(), 'verify.yaml')))
  const result = validatePlanInTempHome(envoy, plan, ctx.env)
  if (!result.ok)
    throw new BackendManagerError('NOT_FOUND', `envoy --mode validate rejected a generated config:\n${result.output}`)
  ctx.stdout.write('validate:   ok\n')
  return 0
}
