import { parseFlags, positiveInt, type Context } from '../../lib/cli/context.ts'
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

export const usage = `Usage: backend-manager simple <start|status|stop|restart|logs|health> [options] [-- COMMAND ...]

N identical workers named worker-0..N-1 on consecutive ports, no config file (quantra-simple).

  simple start --workers N --base-port P [--host H] [--proxy none|nginx|envoy] [--port F]
               [--protocol http|grpc] [-- COMMAND ...]
      COMMAND gets {port} substituted (also as a word of its own) and PORT in its environment;
      the default COMMAND is the bundled demo server (examples/server.ts, or
      examples/grpc-server.ts with --protocol grpc). --proxy nginx or envoy balances round-robin
      across the workers on front port F (default ${DEFAULT_FRONT_PORT}; ${DEFAULT_GRPC_FRONT_PORT} for gRPC, served as
      HTTP/2). gRPC workers are ready once the gRPC health service says SERVING (or, when they
      have none, once they accept connections).
  simple status [--json]        the pool's processes
  simple stop                   stop every worker, wait until every port is free
  simple restart --workers N    same command, base port and proxy, N workers
  simple logs [-f] [-n N]       the pool's unified log
  simple health [--json]        probe every worker directly and through the proxy (under Envoy,
                                also each worker's health as Envoy sees it)

The pool keeps its own state (in <home>/simple), so it can run beside a config-file stack.`

const PROXIES: ProxyType[] = ['none', 'nginx', 'envoy']
const PROTOCOLS: Protocol[] = ['http', 'grpc']

function splitCommand(args: string[]): { flags: string[]; command: string[] } {
  const dash = args.indexOf('--')
  return dash < 0 ? { flags: args, command: [] } : { flags: args.slice(0, dash), command: args.slice(dash + 1) }
}

function required(flag: string, value: number | undefined): number {
  if (value === undefined) throw usageError(`simple start: ${flag} is required (see "backend-manager simple --help")`)
  return value
}

export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args
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
      const { flags, command } = splitCommand(rest)
      const { values } = parseFlags(
        'simple start',
        flags,
        {
          workers: { type: 'string' },
          'base-port': { type: 'string' },
          host: { type: 'string' },
          proxy: { type: 'string' },
          port: { type: 'string' },
          protocol: { type: 'string' },
        },
        0,
      )
      const proxy = (values.proxy ?? 'none') as ProxyType
      if (!PROXIES.includes(proxy))
        throw usageError(`--proxy: expected one of ${PROXIES.join(', ')}, got ${JSON.stringify(values.proxy)}`)
      const protocol = (values.protocol ?? 'http') as Protocol
      if (!PROTOCOLS.includes(protocol))
        throw usageError(`--protocol: expected one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(values.protocol)}`)
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
          command,
          cwd: ctx.cwd,
        },
        'started',
      )
    }
    case 'restart': {
      const { values } = parseFlags('simple restart', rest, { workers: { type: 'string' } }, 0)
      const previous = loadRequest(home)
      if (!previous) throw usageError(`simple restart: no pool was started from ${home.root}; use "simple start"`)
      return launch(
        { ...previous, workers: positiveInt('--workers', values.workers, 1, 256) ?? previous.workers },
        'restarted',
      )
    }
    case 'stop': {
      parseFlags('simple stop', rest, {}, 0)
      return printStopReport(await stopStack(io, onWait), ctx.stdout, ctx.stderr)
    }
    case 'status':
      return runStatus(rest, pool)
    case 'logs':
      return runLogs(rest, pool)
    case 'health':
      return runHealth(rest, pool)
    default:
      throw usageError(
        `simple: expected one of start, status, stop, restart, logs, health${sub ? `, got "${sub}"` : ''}\n\n${usage}`,
      )
  }
}
