import fs from 'node:fs'
import { BackendManagerError } from './errors.ts'
import type { Home } from './home.ts'
import { findNginx, mimeTypesFor } from './nginx-install.ts'
import { nginxArgs, nginxPaths, prepareNginxDirs, renderNginxConf } from './nginx.ts'
import type { Plan } from './plan.ts'
import type { ProxyProcess } from './supervisor.ts'

// Ports the proxy itself binds for this plan.
export function proxyPorts(plan: Plan): number[] {
  if (plan.proxy.type === 'none') return []
  return [plan.proxy.port]
}

const NGINX_READY_TIMEOUT_MS = 10_000
const NGINX_STOP_TIMEOUT_MS = 3_000

// nginx runs in the foreground (daemon off) as one more managed process, started after every server.
export function makeProxy(home: Home, plan: Plan, env: NodeJS.ProcessEnv): ProxyProcess | undefined {
  if (plan.proxy.type === 'none') return undefined
  if (plan.proxy.type !== 'nginx') throw new BackendManagerError('CONFIG', `${plan.file}: proxy.type: "${plan.proxy.type}" is not supported yet, expected nginx or none`)
  const nginx = findNginx(home, env)
  if (!nginx) throw new BackendManagerError('NGINX', 'nginx not found (looked in the state dir, the repository .local/bin, PATH and /usr/sbin); run "make install-nginx" or "backend-manager install-nginx"')
  const paths = nginxPaths(home)
  const argv = [nginx.path, ...nginxArgs(home, { version: nginx.version })]
  return {
    spec: {
      id: 'nginx',
      server: 'nginx',
      instance: 0,
      port: plan.proxy.port,
      host: plan.proxy.host,
      argv,
      command: argv.join(' '),
      cwd: home.root,
      env: {},
      readiness: { kind: 'tcp' },
      readyTimeoutMs: NGINX_READY_TIMEOUT_MS,
      stopTimeoutMs: NGINX_STOP_TIMEOUT_MS,
      restart: 'always',
      maxRestarts: 10,
      dependsOn: [],
      protocol: 'http',
    },
    logFile: paths.errorLog,
    prepare() {
      prepareNginxDirs(home)
      const text = renderNginxConf(plan, home, { mimeTypes: mimeTypesFor(nginx.path) })
      const before = fs.existsSync(paths.conf) ? fs.readFileSync(paths.conf, 'utf8') : undefined
      if (before !== text) fs.writeFileSync(paths.conf, text)
      return { changed: before !== undefined && before !== text }
    },
    // nginx re-reads its config on SIGHUP without dropping connections.
    reload(pid) {
      process.kill(pid, 'SIGHUP')
    },
  }
}
