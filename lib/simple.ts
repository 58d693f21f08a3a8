import fs from 'node:fs'
import path from 'node:path'
import { configFromObject, type Config, type ProxyType } from './config.ts'
import { usageError } from './errors.ts'
import { packageRoot, resolveHome, type Home } from './home.ts'
import { writeJsonAtomic } from './state.ts'

// A pool of identical workers with no config file: the seed's quantra-simple, plus an optional proxy.
export interface PoolRequest {
  workers: number
  basePort: number
  host: string
  proxy: ProxyType
  frontPort: number
  // Empty: the bundled demo server.
  command: string[]
  cwd: string
}

export const POOL_NAME = 'worker'
export const POOL_SOURCE = 'simple mode'
export const DEFAULT_FRONT_PORT = 8000
const DEMO_COMMAND = ['node', '--import', 'tsx', path.join(packageRoot, 'examples', 'server.ts')]

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
    throw usageError(`--port ${req.frontPort} overlaps the worker ports ${req.basePort}-${last}; pick a front port outside them`)
}

export function poolConfig(req: PoolRequest): Config {
  checkRequest(req)
  const demo = req.command.length === 0
  // One word runs through the shell (it may be a whole command line); several run as they are.
  const command = demo ? [...DEMO_COMMAND] : req.command.length === 1 ? req.command[0] : req.command
  return configFromObject(
    {
      proxy: { type: req.proxy, host: req.host, port: req.frontPort },
      servers: [
        {
          name: POOL_NAME,
          command,
          port: req.basePort,
          instances: req.workers,
          host: req.host,
          health: demo ? '/health' : 'tcp',
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
  try {
    return JSON.parse(fs.readFileSync(requestFile(home), 'utf8')) as PoolRequest
  } catch {
    return undefined
  }
}
