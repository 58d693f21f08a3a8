// The `simple` command: a pool of N identical workers with no config file, and its start, status, stop and logs.
import { positiveInt, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './simple.meta.ts'
import type { Protocol, ProxyType } from '../../lib/config/types.ts'
import { usageError } from '../../lib/core/errors.ts'
import { stopStack } from '../../lib/stack/run.ts'
import { printStopReport } from '../../lib/cli/progress.ts'
import { commandIO } from '../../lib/cli/command-io.ts'
import { describeProxy } from '../../lib/proxy/process.ts'
import {
  DEFAULT_FRONT_PORT,
  DEFAULT_GRPC_FRONT_PORT,
  loadRequest,
  poolHome,
  refuseRunningPool,
  scalePool,
  startPool,
  type PoolRequest,
} from '../../lib/stack/pool.ts'
import { run as runHealth } from './health.ts'
import { run as runLogs } from './logs.ts'
import { run as runStatus } from './status.ts'

function required(flag: string, value: number | undefined): number {
  if (value === undefined) throw usageError(`simple start: ${flag} is required (see "backend-manager simple --help")`)
  return value
}

export async function run(
  { subcommand: sub, values, positionals, rest }: Parsed<typeof meta>,
  ctx: Context,
): Promise<number> {
  const home = poolHome(ctx.env, ctx.cwd, ctx.home.root === poolHome({}, ctx.cwd).root ? undefined : ctx.home.root)
  const pool: Context = { ...ctx, home }
  const io = commandIO(pool)
  const launch = async (req: PoolRequest, verb: string) => {
    const started = Date.now()
    const plan = await startPool(req, io, (stopped) => printStopReport(stopped, ctx.stdout, ctx.stderr))
    if (!plan) return 1
    const last = req.basePort + req.workers - 1
    const workers =
      req.workers === 1 ? `1 worker on port ${req.basePort}` : `${req.workers} workers on ports ${req.basePort}-${last}`
    ctx.stdout.write(
      `${verb} ${workers}${req.proxy === 'none' ? '' : `; ${describeProxy(plan)}`} in ${Date.now() - started} ms\n`,
    )
    return 0
  }
  switch (sub) {
    case 'start': {
      const proxy = (values.proxy ?? 'none') as ProxyType
      const protocol = (values.protocol ?? 'http') as Protocol
      refuseRunningPool(home)
      return launch(
        {
          workers: required('--workers', positiveInt('--workers', values.workers, 1, 256)),
          basePort: required('--base-port', positiveInt('--base-port', values['base-port'])),
          host: values.host ?? '127.0.0.1',
          proxy,
          protocol,
          frontPort:
            positiveInt('--port', values.port) ?? (protocol === 'grpc' ? DEFAULT_GRPC_FRONT_PORT : DEFAULT_FRONT_PORT),
          command: rest,
          cwd: ctx.cwd,
        },
        'started',
      )
    }
    case 'restart': {
      const previous = loadRequest(home)
      if (!previous) throw usageError(`simple restart: no pool was started from ${home.root}; use "simple start"`)
      const req = { ...previous, workers: positiveInt('--workers', values.workers, 1, 256) ?? previous.workers }
      const started = Date.now()
      const scaled = await scalePool(req, home)
      if (!scaled) return launch(req, 'restarted')
      const ports =
        scaled.ports.length > 1 ? `ports ${scaled.ports[0]}-${scaled.ports.at(-1)}` : `port ${scaled.ports[0]}`
      ctx.stdout.write(
        `scaled the pool from ${scaled.from} to ${scaled.to} workers on ${ports} in ${Date.now() - started} ms` +
          ` (the running workers kept)\n`,
      )
      return 0
    }
    case 'stop': {
      return printStopReport(await stopStack(io), ctx.stdout, ctx.stderr)
    }
    case 'status':
      return runStatus({ values, positionals, rest }, pool)
    case 'logs':
      return runLogs({ values, positionals, rest }, pool)
    case 'health':
      return runHealth({ values, positionals, rest }, pool)
    default:
      throw usageError('simple: expected a command (see "backend-manager simple --help")')
  }
}
