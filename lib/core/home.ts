// The home: where a stack's runtime state lives (found upward as git finds .git), its folders, the package root.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeDirsUnder, makeHomeDir } from './safe-files.ts'

// The repository (or installed package) root, found from the sources or from their build in dist/:
// bundled templates and the shared nginx install live here.
function findPackageRoot(from: string): string {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'templates'))) return dir
  }
  return path.resolve(from, '..')
}

export const packageRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)))
// A repository checkout (not an installed package): its Make targets may be named in advice.
export const isCheckout = fs.existsSync(path.join(packageRoot, 'Makefile'))

export interface Home {
  root: string
  // How root was chosen, so a command that finds no stack can say where it looked.
  origin?: HomeOrigin
  bin: string
  run: string
  logs: string
  state: string
  lock: string
  nginxConf: string
  nginxPid: string
  supervisorLog: string
  configCache: string
}

// Where the home came from: --home, BACKEND_MANAGER_HOME, found upward, or .local/ of the working folder (none found).
export type HomeOrigin = 'flag' | 'env' | 'found' | 'default'

export const DEFAULT_HOME = '.local'

// Files only this tool writes into <home>/run: a `.local/` holding one of them is ours, not another tool's.
const RUN_MARKERS = ['state.json', 'lock', 'config-cache.json', 'log-offsets.json', 'nginx.conf']

function holdsStack(local: string): boolean {
  if (
    fs.existsSync(path.join(local, 'run', 'state.json')) ||
    fs.existsSync(path.join(local, 'simple', 'run', 'state.json'))
  )
    return true
  return (
    RUN_MARKERS.some((f) => fs.existsSync(path.join(local, 'run', f))) ||
    fs.existsSync(path.join(local, 'simple', 'run'))
  )
}

// The nearest `.local/` holding a stack, from `cwd` upward (as git finds `.git`); undefined when there is none.
export function findHomeUpward(cwd: string): string | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const local = path.join(dir, DEFAULT_HOME)
    if (holdsStack(local)) return local
    if (dir === path.dirname(dir)) return undefined
  }
}

export function locateHome(env: NodeJS.ProcessEnv, cwd: string, flag?: string): { root: string; origin: HomeOrigin } {
  if (flag !== undefined) return { root: path.resolve(cwd, flag), origin: 'flag' }
  if (env.BACKEND_MANAGER_HOME) return { root: path.resolve(cwd, env.BACKEND_MANAGER_HOME), origin: 'env' }
  const found = findHomeUpward(cwd)
  return found ? { root: found, origin: 'found' } : { root: path.resolve(cwd, DEFAULT_HOME), origin: 'default' }
}

// Runtime state lives in --home or BACKEND_MANAGER_HOME, else the nearest .local/ holding a stack, else ./.local.
export function resolveHome(env: NodeJS.ProcessEnv, cwd: string, flag?: string): Home {
  const { root, origin } = locateHome(env, cwd, flag)
  return homeAt(root, origin)
}

export function homeAt(root: string, origin: HomeOrigin = 'flag'): Home {
  const run = path.join(root, 'run')
  const logs = path.join(root, 'logs')
  return {
    root,
    origin,
    bin: path.join(root, 'bin'),
    run,
    logs,
    state: path.join(run, 'state.json'),
    lock: path.join(run, 'lock'),
    nginxConf: path.join(run, 'nginx.conf'),
    nginxPid: path.join(run, 'nginx.pid'),
    supervisorLog: path.join(logs, 'supervisor.log'),
    configCache: path.join(run, 'config-cache.json'),
  }
}

// Creates the home (0700), its run/ and logs/ and the given folders in it (0700); refuses a home someone else owns or
// others may write into, and a link in place of any of its folders.
export function ensureHome(home: Home, ...dirs: string[]): void {
  makeHomeDir(home.root)
  for (const dir of [home.run, home.logs, ...dirs]) makeDirsUnder(home.root, dir)
}
