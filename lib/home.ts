import path from 'node:path'
import { fileURLToPath } from 'node:url'

// The repository (or installed package) root: bundled templates and the shared nginx install live here.
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

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
  }
}
