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

export interface Home {
  root: string
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

// Runtime state lives in BACKEND_MANAGER_HOME (or --home), else .local/ under the working directory.
export function resolveHome(env: NodeJS.ProcessEnv, cwd: string, flag?: string): Home {
  const root = path.resolve(cwd, flag ?? env.BACKEND_MANAGER_HOME ?? '.local')
  const run = path.join(root, 'run')
  const logs = path.join(root, 'logs')
  return {
    root,
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
