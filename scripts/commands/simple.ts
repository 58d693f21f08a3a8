import { positiveInt, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './simple.meta.ts'
import type { Protocol, ProxyType } from '../../lib/config/types.ts'
import { usageError } from '../../lib/core/errors.ts'
import { startDetached } from '../../lib/stack/start.ts'
import { stopStack } from '../../lib/stack/stop.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { printStopReport, progressPrinter } from '../../lib/cli/progress.ts'
import { describeProxy, makeProxy } from '../../lib/proxy/process.ts'
import { ensureNginx } from '../../lib/proxy/nginx/install.ts'
import {
  DEFAULT_FRONT_PORT,
  DEFAULT_GRPC_FRONT_PORT,
  loadRequest,
  poolConfig,
  poolHome,
  refuseRunningPool,
  saveRequest,
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
  const io = {
    home,
    env: ctx.env,
    progress: progressPrinter(ctx.stdout, ctx.env),
    notice: (l: string) => ctx.stderr.write(`${l}\n`),
  }
  const onWait = (what: string) => ctx.stderr.write(`waiting for ${what}\n`)
  const launch = async (req: PoolRequest, verb: string) => {
    const plan = resolvePlan(poolConfig(req))
    // A missing proxy binary is installed (nginx) or reported before a running pool is stopped.
    if (plan.proxy.type === 'nginx') await ensureNginx(home, ctx.env, io.notice)
    makeProxy(home, plan, ctx.env)
    const started = Date.now()
    const stopped = await stopStack(io, onWait)
    if (stopped.wasRunning && printStopReport(stopped, ctx.stdout, ctx.stderr) !== 0) return 1
    await startDetached({ plan }, io)
    saveRequest(home, req)
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
      return launch(
        { ...previous, workers: positiveInt('--workers', values.workers, 1, 256) ?? previous.workers },
        'restarted',
      )
    }
    case 'stop': {
      return printStopReport(await stopStack(io, onWait), ctx.stdout, ctx.stderr)
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
