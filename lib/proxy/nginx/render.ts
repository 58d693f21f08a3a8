// The nginx config for a plan: rendered from templates/nginx.conf, without touching the filesystem.
import fs from 'node:fs'
import path from 'node:path'
import { BackendManagerError } from '../../core/errors.ts'
import { ensureHome, type Home } from '../../core/home.ts'
import { checkExisting, openAppend } from '../../core/safe-files.ts'
import { nginxAccessLogPath, nginxErrorLogPath } from '../../logs/paths.ts'
import { instanceId, proxyListeners, type Plan, type Upstream } from '../../config/plan.ts'
import { fillTemplate, indentLines as indent, loadTemplate } from '../../core/template.ts'
import { hostPort, PROXY_HEALTH_PREFIX, refuse, safePath, safeToken } from '../contract.ts'

export interface RenderOptions {
  // A mime.types file to include (see mimeTypesFor in install.ts); else a small inline table.
  mimeTypes?: string
  // The worker user (and group: "nobody nogroup"); undefined picks defaultWorkerUser(), null writes no user directive.
  user?: string | null
  // Instance ids ("api-0") marked down in their upstream: no new request goes to them (a rolling restart's drain).
  drained?: string[]
  // Where an upstream's instance is reached instead of its host (a container's service name, for export compose).
  instanceHost?: (upstream: string, instance: number) => string
}

// Enough for a proxy that serves no files itself; also written as mime.types when nginx came without one.
export const MINIMAL_MIME_TYPES = `types {
    text/html html htm;
    text/plain txt;
    text/css css;
    application/javascript js mjs;
    application/json json;
    image/svg+xml svg;
    image/png png;
    image/x-icon ico;
}
`

export function nginxPaths(home: Home) {
  const temp = path.join(home.run, 'nginx-temp')
  return {
    conf: home.nginxConf,
    pid: home.nginxPid,
    lockFile: path.join(home.run, 'nginx.lock'),
    errorLog: nginxErrorLogPath(home),
    accessLog: nginxAccessLogPath(home),
    temp: {
      client_body: path.join(temp, 'client_body'),
      proxy: path.join(temp, 'proxy'),
      fastcgi: path.join(temp, 'fastcgi'),
      uwsgi: path.join(temp, 'uwsgi'),
      scgi: path.join(temp, 'scgi'),
    },
  }
}

// nginx creates only the last level of each temp path and needs the log folder to exist.
export function prepareNginxDirs(home: Home): void {
  const paths = nginxPaths(home)
  ensureHome(home, ...Object.values(paths.temp))
  // Created by us, 0600: nginx would create it 0644 (and follow a link planted there).
  fs.closeSync(openAppend(paths.accessLog))
  checkExisting(paths.pid)
}

const WORKER_USER = 'nobody'

// The group to run workers with: Debian's "nogroup", else "nobody" (Red Hat, Alpine).
function workerGroup(): string {
  try {
    return /^nogroup:/m.test(fs.readFileSync('/etc/group', 'utf8')) ? 'nogroup' : 'nobody'
  } catch {
    return 'nobody'
  }
}

// Workers never run as root: as root, they run as "nobody" (nginx's own default, with a group that exists).
export function defaultWorkerUser(): string | null {
  return process.getuid?.() === 0 ? `${WORKER_USER} ${workerGroup()}` : null
}

// "user" or "user group", each a plain token.
function userDirective(user: string): string {
  const parts = user.split(' ')
  if (parts.length > 2) throw refuse('user', user, 'expected "user" or "user group"')
  return parts.map((p) => safeToken('user', p)).join(' ')
}

export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number)
  const b = minimum.split('.').map(Number)
  for (let i = 0; i < b.length; i++) if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > b[i]
  return true
}

// `-p` makes every relative path resolve in the state folder; `-e` (nginx 1.19.5+) also sends the
// errors logged before the config is read there, instead of to a system path we may not write.
export function nginxArgs(home: Home, opts: { version?: string; conf?: string } = {}): string[] {
  const args = ['-p', path.resolve(home.root), '-c', path.resolve(opts.conf ?? home.nginxConf)]
  if (opts.version === undefined || versionAtLeast(opts.version, '1.19.5')) args.push('-e', nginxPaths(home).errorLog)
  return args
}

function upstreamBlock(u: Upstream, drained: Set<string>, host: RenderOptions['instanceHost']): string[] {
  const servers = u.ports.map((port, i) => {
    const down = drained.has(instanceId(u.name, i)) ? ' down' : ''
    return `server ${hostPort(host?.(u.name, i) ?? u.host, port)} max_fails=0${down};`
  })
  const name = safeToken('server name', u.name)
  // A shared zone: round-robin and failure counts are one state for every worker, not one per worker.
  const body = [`zone ${name} 64k;`, ...servers, 'keepalive 32;', 'keepalive_timeout 4s;']
  return [`upstream ${name} {`, ...indent(body), '}']
}

// Set at server level; every location inherits them because none sets a header of its own.
const forwardedHeaders = [
  'proxy_set_header Host $backend_host;',
  'proxy_set_header X-Real-IP $remote_addr;',
  'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
  'proxy_set_header X-Forwarded-Proto $scheme;',
  'proxy_set_header X-Forwarded-Host $backend_host;',
]

function plainLocation(match: string, upstream: string): string[] {
  return [`location ${match} {`, ...indent([`proxy_pass http://${upstream};`]), '}']
}

// Upgrades work on every path; the contract's WebSocket endpoint also gets long timeouts.
function websocketLocation(match: string, upstream: string): string[] {
  const body = [
    `proxy_pass http://${upstream};`,
    '# A quiet socket is not a dead one.',
    'proxy_read_timeout 1h;',
    'proxy_send_timeout 1h;',
    'proxy_buffering off;',
  ]
  return [`location ${match} {`, ...indent(body), '}']
}

// `health` asks nginx for each server's health path, proving the proxy (not just the port) reaches it.
function healthLocation(upstream: string, healthPath: string): string[] {
  return [
    `location = ${PROXY_HEALTH_PREFIX}${upstream} {`,
    ...indent(['access_log off;', `proxy_pass http://${upstream}${healthPath};`]),
    '}',
  ]
}

function notFoundLocation(apiPrefix: string): string[] {
  const body = `{"error":"not found","message":"no server owns this path; modules are served under ${apiPrefix}/<module>/"}\\n`
  return [
    '# No server without modules: only module routes are served.',
    'location / {',
    ...indent(['default_type application/json;', `return 404 '${body}';`]),
    '}',
  ]
}

// gRPC upstreams are plain upstreams too: grpc_pass speaks HTTP/2 to them and keeps connections alive.
function renderUpstreams(plan: Plan, drained: string[], host?: RenderOptions['instanceHost']): string {
  const ids = new Set(plan.upstreams.flatMap((u) => u.ports.map((_, i) => instanceId(u.name, i))))
  const unknown = drained.find((id) => !ids.has(id))
  if (unknown !== undefined)
    throw new BackendManagerError(
      'CONFIG',
      `cannot drain "${unknown}": it is not an instance behind the proxy; expected one of ${[...ids].join(', ') || '(none)'}`,
    )
  const lines: string[] = []
  if (plan.upstreams.length > 0)
    lines.push(
      '# max_fails=0: failures are not remembered. A stopped instance refuses at once on loopback and',
      '# proxy_next_upstream sends the request to the next one, so an instance serves again the moment it is',
      '# back (max_fails=1 fail_timeout=2s kept a restarted server out for 2 s). "down" marks a drained instance.',
      "# Idle connections close before Node's 5 s default.",
    )
  for (const u of plan.upstreams) lines.push(...upstreamBlock(u, new Set(drained), host), '')
  return lines.join('\n').trimEnd()
}

// One server block per front port: HTTP/1.1 on proxy.port, HTTP/2 for gRPC on proxy.grpc_port.
function renderServers(plan: Plan): string {
  const listeners = proxyListeners(plan.proxy, plan.upstreams)
  const blocks: string[] = []
  if (listeners.http !== undefined) {
    const values = {
      listen: hostPort(plan.proxy.host, listeners.http),
      forwarded_headers: forwardedHeaders.join('\n'),
      locations: renderLocations(plan),
    }
    blocks.push(fillTemplate(loadTemplate('nginx-http-server.conf'), values).trimEnd())
  }
  const grpc = plan.upstreams.find((u) => u.protocol === 'grpc')
  if (listeners.grpc !== undefined && grpc) {
    const values = { listen: hostPort(plan.proxy.host, listeners.grpc), upstream: safeToken('server name', grpc.name) }
    blocks.push(fillTemplate(loadTemplate('nginx-grpc-server.conf'), values).trimEnd())
  }
  return blocks.join('\n\n')
}

function renderLocations(plan: Plan): string {
  const httpUpstreams = new Set(plan.upstreams.filter((u) => u.protocol === 'http').map((u) => u.name))
  const blocks: string[][] = []
  for (const route of plan.routes) {
    if (!httpUpstreams.has(route.upstream))
      throw new BackendManagerError(
        'CONFIG',
        `route ${route.path} points at "${route.upstream}", which is not an HTTP upstream`,
      )
    const upstream = safeToken('server name', route.upstream)
    const where = safeToken('route path', route.path)
    if (!where.startsWith('/')) throw refuse('route path', where, 'expected a path starting with "/"')
    // Exact match: the contract's WebSocket endpoint is the path itself, everything below it is plain HTTP.
    if (route.websocket) blocks.push(websocketLocation(`= ${where}`, upstream))
    else blocks.push(plainLocation(where, upstream))
    // Without it nginx answers the path minus its slash with a 301, which turns a POST into a GET.
    if (!route.websocket && where.length > 1 && where.endsWith('/'))
      blocks.push(plainLocation(`= ${where.slice(0, -1)}`, upstream))
  }
  for (const u of plan.upstreams.filter((up) => up.protocol === 'http' && up.healthPath))
    blocks.push(healthLocation(safeToken('server name', u.name), safeToken('health path', u.healthPath!)))
  if (!plan.routes.some((r) => r.path === '/'))
    blocks.push(notFoundLocation(safeToken('api_prefix', plan.proxy.api_prefix)))
  return blocks.map((b) => b.join('\n')).join('\n\n')
}

export function renderNginxConf(plan: Plan, home: Home, opts: RenderOptions = {}): string {
  const paths = nginxPaths(home)
  const user = opts.user === undefined ? defaultWorkerUser() : opts.user
  const mime =
    opts.mimeTypes === undefined
      ? `# No mime.types file next to this nginx; nginx serves no files here.\n${MINIMAL_MIME_TYPES.trimEnd()}`
      : `include ${safePath('mime.types', opts.mimeTypes)};`
  return fillTemplate(loadTemplate('nginx.conf'), {
    // Only a line break could escape the comment this name sits in.
    config_name: path.basename(plan.file).replace(/[\r\n]/g, ' '),
    user_directive: user
      ? `# The master runs as root and opens every file; the workers run unprivileged.\nuser ${userDirective(user)};`
      : '',
    pid: safePath('pid file', paths.pid),
    lock_file: safePath('lock file', paths.lockFile),
    error_log: safePath('error log', paths.errorLog),
    access_log: safePath('access log', paths.accessLog),
    mime_types: mime,
    client_body_temp: safePath('temp folder', paths.temp.client_body),
    proxy_temp: safePath('temp folder', paths.temp.proxy),
    fastcgi_temp: safePath('temp folder', paths.temp.fastcgi),
    uwsgi_temp: safePath('temp folder', paths.temp.uwsgi),
    scgi_temp: safePath('temp folder', paths.temp.scgi),
    upstreams: renderUpstreams(plan, opts.drained ?? [], opts.instanceHost),
    servers: renderServers(plan),
  })
}
