// The Envoy config for a plan: rendered from templates/envoy.yaml, without touching the filesystem.
// Blocks are built as data and written by a YAML emitter with every string double-quoted, so no
// value can change the document's structure (or be read by Envoy as a bool or a number).
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { BackendManagerError } from '../../core/errors.ts'
import { PROXY_HEALTH_PREFIX, safeToken } from '../contract.ts'
import { bareHost } from '../../os/hosts.ts'
import type { Home } from '../../core/home.ts'
import { envoyAccessLogPath, envoyLogPath } from '../../logs/paths.ts'
import { proxyListeners, type Plan, type Route, type Upstream } from '../../config/plan.ts'
import { fillTemplate, loadTemplate } from '../../core/template.ts'

export function envoyPaths(home: Home) {
  return {
    conf: path.join(home.run, 'envoy.yaml'),
    log: envoyLogPath(home),
    accessLog: envoyAccessLogPath(home),
  }
}

const TYPES = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fileLog: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
  httpOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
}

// Mirrors the nginx access log: one JSON object per request.
const ACCESS_LOG_FORMAT = {
  time: '%START_TIME%',
  remote: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%',
  method: '%REQ(:METHOD)%',
  uri: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  status: '%RESPONSE_CODE%',
  grpc_status: '%GRPC_STATUS%',
  bytes: '%BYTES_SENT%',
  duration_ms: '%DURATION%',
  upstream: '%UPSTREAM_HOST%',
  user_agent: '%REQ(USER-AGENT)%',
}

function safeFile(what: string, value: string): string {
  if (!path.isAbsolute(value) || /[\x00-\x1f\x7f]/.test(value))
    throw new BackendManagerError(
      'CONFIG',
      `${what} ${JSON.stringify(value)} cannot go into the envoy config: expected an absolute path without control characters`,
    )
  return value
}

// Envoy binds IP addresses only; "localhost" is the one name with an obvious meaning.
export function listenAddress(host: string): string {
  const bare = bareHost(host)
  if (bare === 'localhost') return '127.0.0.1'
  if (net.isIP(bare)) return bare
  throw new BackendManagerError(
    'CONFIG',
    `proxy.host ${JSON.stringify(host)}: envoy listens on IP addresses only, expected e.g. 127.0.0.1, ::1 or 0.0.0.0`,
  )
}

// Where Envoy connects: a server bound to every address is reached on loopback; other names resolve by DNS.
function endpointAddress(host: string): { address: string; dns: boolean } {
  const bare = bareHost(host)
  if (bare === '0.0.0.0' || bare === 'localhost') return { address: '127.0.0.1', dns: false }
  if (bare === '::') return { address: '::1', dns: false }
  if (net.isIP(bare)) return { address: bare, dns: false }
  return { address: safeToken('server host', bare), dns: true }
}

function healthCheck(plan: Plan, u: Upstream): object[] {
  const readiness = plan.processes.find((p) => p.server === u.name)?.readiness ?? { kind: 'tcp' }
  // One failed check takes an instance out and one pass brings it back;
  // checks keep running while no traffic flows, so the admin view stays current on an idle laptop.
  const timing = {
    timeout: '1s',
    interval: '2s',
    no_traffic_interval: '2s',
    unhealthy_threshold: 1,
    healthy_threshold: 1,
  }
  if (readiness.kind === 'none') return []
  if (u.protocol === 'grpc') return [{ ...timing, grpc_health_check: {} }]
  if (u.healthPath) return [{ ...timing, http_health_check: { path: safeToken('health path', u.healthPath) } }]
  return [{ ...timing, tcp_health_check: {} }]
}

function cluster(plan: Plan, u: Upstream): object {
  const name = safeToken('server name', u.name)
  const { address, dns } = endpointAddress(u.host)
  // gRPC needs HTTP/2 to the instances; HTTP servers get HTTP/1.1, idle connections closed before Node's 5 s.
  const protocol = u.protocol === 'grpc' ? { http2_protocol_options: {} } : { http_protocol_options: {} }
  return {
    name,
    type: dns ? 'STRICT_DNS' : 'STATIC',
    connect_timeout: '2s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: u.ports.map((port) => ({
            endpoint: { address: { socket_address: { address, port_value: port } } },
          })),
        },
      ],
    },
    health_checks: healthCheck(plan, u),
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': TYPES.httpOptions,
        common_http_protocol_options: { idle_timeout: '4s' },
        explicit_http_config: protocol,
      },
    },
  }
}

// A refused connection moves the request to another instance, as nginx's proxy_next_upstream does.
const retry = { retry_on: 'connect-failure,refused-stream', num_retries: 2 }

function routePath(r: Route): string {
  const where = safeToken('route path', r.path)
  if (!where.startsWith('/'))
    throw new BackendManagerError(
      'CONFIG',
      `route path ${JSON.stringify(where)} cannot go into the envoy config: expected a path starting with "/"`,
    )
  return where
}

// Envoy takes the first match, so exact paths come first, then prefixes longest first, then "/".
function httpRoutes(plan: Plan): object[] {
  const http = new Set(plan.upstreams.filter((u) => u.protocol === 'http').map((u) => u.name))
  for (const r of plan.routes)
    if (!http.has(r.upstream))
      throw new BackendManagerError(
        'CONFIG',
        `route ${r.path} points at "${r.upstream}", which is not an HTTP upstream`,
      )
  // A quiet WebSocket is not a dead one: the contract's endpoint gets no timeouts (upgrades pass on every route).
  const websockets = plan.routes
    .filter((r) => r.websocket)
    .map((r) => ({
      match: { path: routePath(r) },
      route: {
        cluster: safeToken('server name', r.upstream),
        timeout: '0s',
        idle_timeout: '3600s',
        upgrade_configs: [{ upgrade_type: 'websocket' }],
      },
    }))
  // `health` asks the proxy for each server's health path, proving the proxy (not just the port) reaches it.
  const health = plan.upstreams
    .filter((u) => u.protocol === 'http' && u.healthPath)
    .map((u) => ({
      match: { path: `${PROXY_HEALTH_PREFIX}${safeToken('server name', u.name)}` },
      route: { cluster: u.name, prefix_rewrite: safeToken('health path', u.healthPath!), timeout: '5s' },
    }))
  // A backend paused in a debugger should not turn into a 504 within a minute.
  const plain = (r: Route) => ({ cluster: safeToken('server name', r.upstream), timeout: '300s', retry_policy: retry })
  const prefixRoutes = plan.routes.filter((r) => !r.websocket)
  // A module path without its trailing slash belongs to the module, not to "/".
  const bare = prefixRoutes
    .filter((r) => r.path.length > 1 && r.path.endsWith('/'))
    .map((r) => ({ match: { path: routePath(r).slice(0, -1) }, route: plain(r) }))
  const prefixes = prefixRoutes
    .sort((a, b) => b.path.length - a.path.length)
    .map((r) => ({ match: { prefix: routePath(r) }, route: plain(r) }))
  const body =
    `{"error":"not found","message":"no server owns this path; ` +
    `modules are served under ${safeToken('api_prefix', plan.proxy.api_prefix)}/<module>/"}\n`
  const notFound = plan.routes.some((r) => r.path === '/')
    ? []
    : [{ match: { prefix: '/' }, direct_response: { status: 404, body: { inline_string: body } } }]
  return [...websockets, ...health, ...bare, ...prefixes, ...notFound]
}

// gRPC calls carry their own deadline (grpc-timeout), honoured as is; a quiet stream may idle 300 s.
function grpcRoutes(upstream: Upstream): object[] {
  const route = {
    cluster: safeToken('server name', upstream.name),
    timeout: '0s',
    idle_timeout: '300s',
    max_stream_duration: { grpc_timeout_header_max: '0s' },
    retry_policy: retry,
  }
  return [{ match: { prefix: '/', grpc: {} }, route }]
}

function listener(name: 'http' | 'grpc', plan: Plan, port: number, routes: object[], accessLog: string): object {
  const manager = {
    '@type': TYPES.hcm,
    stat_prefix: name,
    codec_type: name === 'grpc' ? 'HTTP2' : 'AUTO',
    // X-Forwarded-For gets the client's address, as nginx's proxy_add_x_forwarded_for does.
    use_remote_address: true,
    ...(name === 'http' ? { upgrade_configs: [{ upgrade_type: 'websocket' }] } : {}),
    access_log: [
      {
        name: 'envoy.access_loggers.file',
        typed_config: { '@type': TYPES.fileLog, path: accessLog, log_format: { json_format: ACCESS_LOG_FORMAT } },
      },
    ],
    route_config: { name: `${name}_routes`, virtual_hosts: [{ name: `${name}_backends`, domains: ['*'], routes }] },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPES.router } }],
  }
  return {
    name,
    address: { socket_address: { address: listenAddress(plan.proxy.host), port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: manager }] }],
  }
}

// zx (for its YAML emitter) is loaded only when a config is rendered: stop and status import this
// module through the proxy and never render. zx types stringify with the value only; it takes options.
function stringify(value: unknown, options: object): string {
  const { YAML } = createRequire(import.meta.url)('zx') as typeof import('zx')
  return (YAML.stringify as (value: unknown, options: object) => string)(value, options)
}

const emit = (value: unknown[]): string =>
  value.length === 0
    ? '[]'
    : stringify(value, {
        lineWidth: 0,
        defaultStringType: 'QUOTE_DOUBLE',
        defaultKeyType: 'PLAIN',
        aliasDuplicateObjects: false,
      }).trimEnd()

export function renderEnvoyConf(plan: Plan, home: Home): string {
  const paths = envoyPaths(home)
  const accessLog = safeFile('access log', paths.accessLog)
  const ports = proxyListeners({ ...plan.proxy, type: 'envoy' }, plan.upstreams)
  const listeners: object[] = []
  if (ports.http !== undefined) listeners.push(listener('http', plan, ports.http, httpRoutes(plan), accessLog))
  const grpc = plan.upstreams.find((u) => u.protocol === 'grpc')
  if (ports.grpc !== undefined && grpc) listeners.push(listener('grpc', plan, ports.grpc, grpcRoutes(grpc), accessLog))
  const admin = plan.proxy.admin_port
  if (!Number.isInteger(admin) || admin < 1 || admin > 65535)
    throw new BackendManagerError('CONFIG', `proxy.admin_port ${admin}: expected 1-65535`)
  return fillTemplate(loadTemplate('envoy.yaml'), {
    // Only a line break could escape the comment this name sits in.
    config_name: path.basename(plan.file).replace(/[\r\n]/g, ' '),
    admin_port: String(admin),
    listeners: emit(listeners),
    clusters: emit(plan.upstreams.map((u) => cluster(plan, u))),
  })
}
