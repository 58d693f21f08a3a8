// Simple mode's pool: N identical workers turned into a config, with its own home beside any config-file stack.
import path from 'node:path'
import { configFromObject } from '../config/load.ts'
import { proxyDefaults, type Config, type Protocol, type ProxyType } from '../config/types.ts'
import { BackendManagerError, usageError } from '../core/errors.ts'
import { packageRoot, resolveHome, type Home } from '../core/home.ts'
import { isSameProcess } from '../os/platform.ts'
import { readState, supervisorAlive } from './state.ts'
import { readJsonFile, writeJsonAtomic } from '../core/json-files.ts'
import { resolvePlan, type Plan } from '../config/plan.ts'
import { ensureProxy } from './start.ts'
import { commandSupervisor } from './control-client.ts'
import { runsPlan, type ScaleChange } from './scale.ts'
import { restartStack, type RunIO } from './run.ts'
import type { StopResult } from './stop.ts'

// A pool of identical workers with no config file: the seed's quantra-simple, plus an optional proxy.
export interface PoolRequest {
  workers: number
  basePort: number
  host: string
  proxy: ProxyType
  // grpc: the workers speak gRPC; the proxy serves them over HTTP/2 on the front port.
  protocol?: Protocol
  frontPort: number
  // Empty: the bundled demo server (HTTP or gRPC).
  command: string[]
  cwd: string
}

export const POOL_NAME = 'worker'
export const POOL_SOURCE = 'simple mode'
export const DEFAULT_FRONT_PORT = proxyDefaults.port
export const DEFAULT_GRPC_FRONT_PORT = proxyDefaults.grpc_port
const DEMO_COMMANDS: Record<Protocol, string[]> = {
  http: ['node', '--import', 'tsx', path.join(packageRoot, 'examples', 'server.ts')],
  grpc: ['node', '--import', 'tsx', path.join(packageRoot, 'examples', 'grpc-server.ts')],
}

// The pool keeps its own state folder, so it can run beside a config-file stack.
export function poolHome(env: NodeJS.ProcessEnv, cwd: string, flag?: string): Home {
  const base = resolveHome(env, cwd, flag)
  return resolveHome({}, cwd, path.join(base.root, 'simple'))
}

// Flag-level checks come first so their messages name the flag, not a config key.
function checkRequest(req: PoolRequest): void {
  const last = req.basePort + req.workers - 1
  if (last > 65535) throw usageError(`--workers ${req.workers} from --base-port ${req.basePort} runs past port 65535`)
  if (req.proxy !== 'none' && req.frontPort >= req.basePort && req.frontPort <= last)
    throw usageError(
      `--port ${req.frontPort} overlaps the worker ports ${req.basePort}-${last}; pick a front port outside them`,
    )
  const admin = proxyDefaults.admin_port
  if (req.proxy === 'envoy' && (admin === req.frontPort || (admin >= req.basePort && admin <= last)))
    throw usageError(
      `--proxy envoy: its admin API port ${admin} is ` +
        `${admin === req.frontPort ? '--port' : `among the worker ports ${req.basePort}-${last}`}` +
        `; pick ports that leave ${admin} free`,
    )
}

export function poolConfig(req: PoolRequest): Config {
  checkRequest(req)
  const demo = req.command.length === 0
  const protocol = req.protocol ?? 'http'
  // One word runs through the shell (it may be a whole command line); several run as they are.
  const command = demo ? [...DEMO_COMMANDS[protocol]] : req.command.length === 1 ? req.command[0] : req.command
  // gRPC workers are served on the proxy's gRPC port; with no HTTP server behind it, proxy.port goes unused.
  const front = protocol === 'grpc' ? { grpc_port: req.frontPort } : {}
  return configFromObject(
    {
      proxy: { type: req.proxy, host: req.host, port: req.frontPort, ...front },
      servers: [
        {
          name: POOL_NAME,
          command,
          port: req.basePort,
          instances: req.workers,
          host: req.host,
          protocol,
          // gRPC workers are asked through the gRPC health service (TCP when they have none).
          ...(protocol === 'grpc' ? {} : { health: demo ? '/health' : 'tcp' }),
          cwd: demo ? packageRoot : req.cwd,
          ready_timeout: 30,
        },
      ],
    },
    POOL_SOURCE,
  )
}

// What `simple restart` keeps from the running pool (command, ports, proxy) lives beside its state.
const requestFile = (home: Home) => path.join(home.run, 'pool.json')

export function saveRequest(home: Home, req: PoolRequest): void {
  writeJsonAtomic(requestFile(home), req)
}

export function loadRequest(home: Home): PoolRequest | undefined {
  return readJsonFile(requestFile(home)) as PoolRequest | undefined
}

// A second `simple start` must not silently replace a pool that serves: restart and stop say so.
export function refuseRunningPool(home: Home): void {
  const state = readState(home)
  if (!state) return
  const live = state.processes.filter((p) => isSameProcess(p.pid, p.startTime))
  if (!supervisorAlive(state) && live.length === 0) return
  const what = supervisorAlive(state)
    ? `supervisor pid ${state.supervisor.pid}`
    : `${live.length} of its processes still running`
  throw new BackendManagerError(
    'START_FAILED',
    `a pool is already running from ${home.root} (${what}); use "simple restart" or "simple stop" first`,
  )
}

// simple start and restart: the proxy binary is checked before a running pool is stopped, then the pool is
// restarted (see run.ts) and its request kept for the next `simple restart`.
export async function startPool(
  req: PoolRequest,
  io: RunIO,
  stopped: (result: StopResult) => void,
): Promise<Plan | undefined> {
  const plan = resolvePlan(poolConfig(req))
  await ensureProxy(plan, io)
  if (!(await restartStack(plan, io, stopped))) return undefined
  saveRequest(io.home, req)
  return plan
}

// simple restart --workers N while the pool runs this same request (command, ports, proxy) at another count: scaled
// in place like "scale", the running workers kept; undefined when it is to be stopped and started instead.
export async function scalePool(req: PoolRequest, home: Home): Promise<ScaleChange | undefined> {
  const state = readState(home)
  if (!state || state.phase !== 'running' || !supervisorAlive(state)) return undefined
  const count = state.plan.processes.filter((p) => p.server === POOL_NAME).length
  if (count === req.workers || !runsPlan(state, resolvePlan(poolConfig({ ...req, workers: count })))) return undefined
  // Checked at the new count first: the front port and the proxy's own ports stay out of the workers' range.
  poolConfig(req)
  const answer = await commandSupervisor(home, '/v1/scale', { servers: { [POOL_NAME]: req.workers } })
  saveRequest(home, req)
  return (answer.servers as ScaleChange[])[0]
}
