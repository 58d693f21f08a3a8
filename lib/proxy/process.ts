// The proxy as a managed process: its config written into the home, its command and ports, and its description.
import fs from 'node:fs'
import { BackendManagerError } from '../core/errors.ts'
import { ensureHome, type Home } from '../core/home.ts'
import { envoyPaths, renderEnvoyConf } from './envoy/render.ts'
import { envoyArgs, requireEnvoy } from './envoy/binary.ts'
import { findNginx, installAdvice, mimeTypesFor } from './nginx/install.ts'
import { nginxArgs, nginxPaths, prepareNginxDirs, renderNginxConf } from './nginx/render.ts'
import { proxyListeners, type Plan, type ProcessSpec } from '../config/plan.ts'
import { isSameProcess, startTimeOf } from '../os/platform.ts'
import { openAppend, writeFileAtomic } from '../core/safe-files.ts'
import { sleepSync } from '../core/sleep.ts'
import type { ProxyProcess } from './contract.ts'

// Ports the proxy itself binds for this plan: its front ports, and Envoy's admin API.
export function proxyPorts(plan: Plan): number[] {
  const { http, grpc } = proxyListeners(plan.proxy, plan.upstreams)
  const admin = plan.proxy.type === 'envoy' ? plan.proxy.admin_port : undefined
  return [http, grpc, admin].filter((p): p is number => p !== undefined)
}

// The port the proxy is recorded, probed and shown with: HTTP when it serves HTTP, else gRPC.
export function frontPort(plan: Plan): number {
  const { http, grpc } = proxyListeners(plan.proxy, plan.upstreams)
  return http ?? grpc ?? plan.proxy.port
}

// Every process a start runs for the plan: its servers' instances, and the proxy.
export function processCount(plan: Plan): number {
  return plan.processes.length + (plan.proxy.type === 'none' ? 0 : 1)
}

// "nginx on http://127.0.0.1:8000 and 127.0.0.1:50051 (gRPC)", for the line start prints.
export function describeProxy(plan: Plan): string {
  const { http, grpc } = proxyListeners(plan.proxy, plan.upstreams)
  const where = [
    http === undefined ? '' : `http://${plan.proxy.host}:${http}`,
    grpc === undefined ? '' : `${plan.proxy.host}:${grpc} (gRPC)`,
  ]
  return `${plan.proxy.type} on ${where.filter(Boolean).join(' and ')}`
}

const PROXY_READY_TIMEOUT_MS = 10_000
const PROXY_STOP_TIMEOUT_MS = 3_000

function proxySpec(plan: Plan, home: Home, id: 'nginx' | 'envoy', argv: string[]): ProcessSpec {
  return {
    id,
    server: id,
    instance: 0,
    port: frontPort(plan),
    host: plan.proxy.host,
    argv,
    command: argv.join(' '),
    cwd: home.root,
    env: {},
    readiness: { kind: 'tcp' },
    readyTimeoutMs: PROXY_READY_TIMEOUT_MS,
    stopTimeoutMs: PROXY_STOP_TIMEOUT_MS,
    restart: 'always',
    maxRestarts: 10,
    dependsOn: [],
    protocol: 'http',
  }
}

// Writes the file only when its text changed; says whether an existing config was replaced.
function writeIfChanged(file: string, text: string): { changed: boolean } {
  const before = fs.lstatSync(file, { throwIfNoEntry: false })?.isFile() ? fs.readFileSync(file, 'utf8') : undefined
  if (before !== text) writeFileAtomic(file, text)
  return { changed: before !== undefined && before !== text }
}

function nginxProxy(home: Home, plan: Plan, env: NodeJS.ProcessEnv): ProxyProcess {
  const nginx = findNginx(home, env)
  if (!nginx)
    throw new BackendManagerError(
      'NGINX',
      `nginx not found (looked in the state dir, the repository .local/bin, the per-user cache, PATH and /usr/sbin); ${installAdvice()}`,
    )
  const paths = nginxPaths(home)
  return {
    spec: proxySpec(plan, home, 'nginx', [nginx.path, ...nginxArgs(home, { version: nginx.version })]),
    logFile: paths.errorLog,
    prepare(drained) {
      prepareNginxDirs(home)
      return writeIfChanged(paths.conf, renderNginxConf(plan, home, { mimeTypes: mimeTypesFor(nginx.path), drained }))
    },
    // nginx re-reads its config on SIGHUP without dropping connections.
    reload(pid) {
      process.kill(pid, 'SIGHUP')
    },
  }
}

function envoyProxy(home: Home, plan: Plan, env: NodeJS.ProcessEnv): ProxyProcess {
  const envoy = requireEnvoy(home, env)
  const paths = envoyPaths(home)
  return {
    spec: proxySpec(plan, home, 'envoy', [envoy.path, ...envoyArgs(home)]),
    logFile: paths.log,
    prepare() {
      ensureHome(home)
      // Created by us, 0600 and not through a link, before Envoy opens it for append.
      fs.closeSync(openAppend(paths.accessLog))
      return writeIfChanged(paths.conf, renderEnvoyConf(plan, home))
    },
    // A static Envoy config is read only at start: stop this one (waiting until its ports are free),
    // and the supervisor starts it again (restart: always) with the new file.
    reload(pid) {
      const startTime = startTimeOf(pid)
      process.kill(pid, 'SIGTERM')
      const deadline = Date.now() + PROXY_STOP_TIMEOUT_MS
      while (startTime && isSameProcess(pid, startTime) && Date.now() < deadline) sleepSync(20)
    },
  }
}

// The proxy runs in the foreground as one more managed process, started after every server.
export function makeProxy(home: Home, plan: Plan, env: NodeJS.ProcessEnv): ProxyProcess | undefined {
  if (plan.proxy.type === 'none') return undefined
  if (plan.proxy.type === 'envoy') return envoyProxy(home, plan, env)
  return nginxProxy(home, plan, env)
}
