// The Envoy renderer: golden files (UPDATE_GOLDEN=1 rewrites them), the rendered YAML's structure,
// injection refusal, the admin API's health view, and, where an envoy binary exists, validation
// and a real stack behind it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { YAML } from 'zx'
import { loadConfig, parseConfig } from '../../lib/config/load.ts'
import { parseClusters } from '../../lib/proxy/envoy/admin.ts'
import { baseIdFor, envoyArgs, findEnvoy, parseEnvoyVersion, validateEnvoyConf } from '../../lib/proxy/envoy/binary.ts'
import { envoyPaths, listenAddress, renderEnvoyConf } from '../../lib/proxy/envoy/render.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { decodeMessage, int, unaryCall } from '../../lib/probe/grpc.ts'
import { packageRoot, resolveHome, type Home } from '../../lib/core/home.ts'
import { resolvePlan, type Plan } from '../../lib/config/plan.ts'
import { proxyPorts } from '../../lib/proxy/process.ts'
import { freePorts, httpGet, listening, useHome, waitFor } from '../helpers.ts'

const goldenDir = path.join(packageRoot, 'test', 'golden')
// A frozen copy of the bundled config: its golden output must not follow edits to the user's dev-config.yaml.
const devConfig = path.join('test', 'fixtures', 'configs', 'dev-config.yaml')
const fixedHome = (root: string): Home => resolveHome({}, '/', root)
const fromYaml = (text: string) => resolvePlan(parseConfig(text, path.join(packageRoot, 'test', 'golden-case.yaml')))

// HTTP and gRPC side by side on IPv6, a tcp-checked server and an unchecked one, a portless worker.
const MIXED = `proxy:
  type: envoy
  host: "::1"
  port: 9000
  grpc_port: 9050
  admin_port: 9901
servers:
  - { name: web, command: node web.js, host: "::1", port: 9101, instances: 2, modules: [web], health: /healthz }
  - { name: cache, command: node cache.js, host: localhost, port: 9201, modules: [cache], health: tcp }
  - { name: legacy, command: node legacy.js, host: "::1", port: 9301, modules: [legacy], health: none }
  - { name: pricer, command: node pricer.js, host: "::1", port: 9401, instances: 3, protocol: grpc }
  - { name: queue, command: node queue.js }
`

// The seed's full mode: N gRPC workers behind Envoy on 50051, nothing else.
const GRPC_POOL = `proxy: { type: envoy, grpc_port: 50051 }
servers:
  - { name: worker, command: "./sync_server --port {port}", port: 50055, instances: 4, protocol: grpc }
`

const cases: { name: string; plan: () => Plan }[] = [
  {
    name: 'dev-config',
    plan: () =>
      resolvePlan(
        ((c) => ({ ...c, proxy: { ...c.proxy, type: 'envoy' as const } }))(
          loadConfig(path.join(packageRoot, devConfig)),
        ),
      ),
  },
  { name: 'mixed-ipv6', plan: () => fromYaml(MIXED) },
  { name: 'grpc-pool', plan: () => fromYaml(GRPC_POOL) },
]
const home = fixedHome('/srv/backend-manager')

for (const c of cases) {
  test(`golden: envoy ${c.name}`, () => {
    const text = renderEnvoyConf(c.plan(), home)
    const file = path.join(goldenDir, `envoy-${c.name}.yaml`)
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, text)
    assert.equal(
      text,
      fs.readFileSync(file, 'utf8'),
      `${file} differs; rerun with UPDATE_GOLDEN=1 if the change is intended`,
    )
  })
}

interface Doc {
  admin: { address: { socket_address: { address: string; port_value: number } } }
  static_resources: { listeners: any[]; clusters: any[] }
}

const parse = (text: string) => YAML.parse(text) as Doc
const manager = (listener: any) => listener.filter_chains[0].filters[0].typed_config
const routesOf = (listener: any) => manager(listener).route_config.virtual_hosts[0].routes as any[]
const endpoints = (cluster: any) =>
  cluster.load_assignment.endpoints[0].lb_endpoints.map((e: any) => e.endpoint.address.socket_address)

test('structure: admin on loopback, an HTTP listener routing by path, one cluster per server', () => {
  const doc = parse(renderEnvoyConf(cases[0].plan(), home))
  assert.deepEqual(doc.admin.address.socket_address, { address: '127.0.0.1', port_value: 9901 })
  const [http, ...others] = doc.static_resources.listeners
  assert.equal(others.length, 0, 'no gRPC listener without gRPC servers')
  assert.deepEqual(http.address.socket_address, { address: '127.0.0.1', port_value: 8000 })
  assert.equal(manager(http).codec_type, 'AUTO')
  assert.deepEqual(
    manager(http).upgrade_configs,
    [{ upgrade_type: 'websocket' }],
    'WebSocket upgrades pass on every route',
  )
  assert.equal(manager(http).http_filters.at(-1).name, 'envoy.filters.http.router')
  assert.equal(manager(http).access_log[0].typed_config.path, '/srv/backend-manager/logs/envoy-access.log')
  const routes = routesOf(http).map((r) => [
    r.match.path ?? r.match.prefix,
    r.route?.cluster,
    r.route?.upgrade_configs?.[0]?.upgrade_type ?? r.route?.prefix_rewrite ?? '',
  ])
  assert.deepEqual(routes, [
    ['/api/v1/broker/ws', 'broker', 'websocket'],
    ['/api/v1/datafeed/ws', 'datafeed', 'websocket'],
    ['/__backend-manager/health/core', 'core', '/health'],
    ['/__backend-manager/health/broker', 'broker', '/health'],
    ['/__backend-manager/health/datafeed', 'datafeed', '/health'],
    ['/api/v1/broker', 'broker', ''],
    ['/api/v1/datafeed', 'datafeed', ''],
    ['/api/v1/datafeed/', 'datafeed', ''],
    ['/api/v1/broker/', 'broker', ''],
    ['/', 'core', ''],
  ])
  const clusters = doc.static_resources.clusters
  assert.deepEqual(
    clusters.map((c) => [c.name, c.type, c.lb_policy]),
    [
      ['core', 'STATIC', 'ROUND_ROBIN'],
      ['broker', 'STATIC', 'ROUND_ROBIN'],
      ['datafeed', 'STATIC', 'ROUND_ROBIN'],
    ],
  )
  assert.deepEqual(endpoints(clusters[2]), [
    { address: '127.0.0.1', port_value: 8002 },
    { address: '127.0.0.1', port_value: 8003 },
  ])
  for (const c of clusters) {
    assert.deepEqual(c.health_checks[0].http_health_check, { path: '/health' })
    assert.equal(c.health_checks[0].no_traffic_interval, '2s', 'checks keep running on an idle stack')
    const options = c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']
    assert.deepEqual(options.explicit_http_config, { http_protocol_options: {} })
  }
})

test('structure: gRPC gets its own HTTP/2 listener, HTTP/2 upstreams and gRPC health checks', () => {
  const doc = parse(renderEnvoyConf(fromYaml(MIXED), home))
  const [http, grpc] = doc.static_resources.listeners
  assert.deepEqual([http.name, http.address.socket_address], ['http', { address: '::1', port_value: 9000 }])
  assert.deepEqual([grpc.name, grpc.address.socket_address], ['grpc', { address: '::1', port_value: 9050 }])
  assert.equal(manager(grpc).codec_type, 'HTTP2')
  assert.deepEqual(routesOf(grpc), [
    {
      match: { prefix: '/', grpc: {} },
      route: {
        cluster: 'pricer',
        timeout: '0s',
        idle_timeout: '300s',
        max_stream_duration: { grpc_timeout_header_max: '0s' },
        retry_policy: { retry_on: 'connect-failure,refused-stream', num_retries: 2 },
      },
    },
  ])
  assert.ok(!routesOf(http).some((r) => r.route?.cluster === 'pricer'), 'no HTTP route leads to the gRPC server')
  assert.equal(routesOf(http).at(-1).direct_response.status, 404, 'no server owns "/": a JSON 404')
  const byName = new Map(doc.static_resources.clusters.map((c) => [c.name, c]))
  assert.deepEqual([...byName.keys()], ['web', 'cache', 'legacy', 'pricer'], 'the portless worker has no cluster')
  const pricer = byName.get('pricer')
  assert.deepEqual(
    endpoints(pricer).map((e: any) => e.port_value),
    [9401, 9402, 9403],
  )
  assert.deepEqual(pricer.health_checks[0].grpc_health_check, {})
  assert.deepEqual(
    pricer.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']
      .explicit_http_config,
    { http2_protocol_options: {} },
  )
  assert.deepEqual(byName.get('web').health_checks[0].http_health_check, { path: '/healthz' })
  assert.deepEqual(byName.get('cache').health_checks[0].tcp_health_check, {})
  assert.deepEqual(
    endpoints(byName.get('cache')),
    [{ address: '127.0.0.1', port_value: 9201 }],
    'localhost is connected to as 127.0.0.1',
  )
  assert.deepEqual(byName.get('legacy').health_checks, [], 'health: none means no active checks')
})

test('structure: a gRPC-only pool has no HTTP listener at all', () => {
  const doc = parse(renderEnvoyConf(fromYaml(GRPC_POOL), home))
  assert.deepEqual(
    doc.static_resources.listeners.map((l) => [l.name, l.address.socket_address.port_value]),
    [['grpc', 50051]],
  )
  assert.deepEqual(
    endpoints(doc.static_resources.clusters[0]).map((e: any) => e.port_value),
    [50055, 50056, 50057, 50058],
  )
})

test('every string is double-quoted, so no value is read as a bool, a number or more YAML', () => {
  const weird = fixedHome(`/srv/a "quoted": yes, [it's] {a} - home # x`)
  const text = renderEnvoyConf(fromYaml(GRPC_POOL), weird)
  assert.equal(
    parse(text).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log[0].typed_config.path,
    envoyPaths(weird).accessLog,
  )
  const unquoted = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#') && /^\s+[a-z_]+: (?!true$|false$)[a-z]/.test(l))
  assert.deepEqual(unquoted, [], 'only true and false are written bare')
  assert.ok(!/[&*]a\d/.test(text), 'no YAML anchors or aliases')
})

const bad = ['a b', 'a;b', 'a{b', 'a}b', 'a"b', "a'b", 'a#b', 'a$b', 'a\\b', 'a\nb', 'a\tb']

test('values that would inject into the config are refused', () => {
  const mutations: [string, (plan: Plan, value: string) => void][] = [
    [
      'cluster name',
      (p, v) => {
        p.upstreams[0].name = v
        p.routes.forEach((r) => {
          if (r.upstream === 'core') r.upstream = v
        })
      },
    ],
    [
      'route path',
      (p, v) => {
        p.routes[0].path = `/api/${v}/`
      },
    ],
    [
      'health path',
      (p, v) => {
        p.upstreams[1].healthPath = `/h${v}`
      },
    ],
    [
      'server host',
      (p, v) => {
        p.upstreams[1].host = v
      },
    ],
    [
      'proxy host',
      (p, v) => {
        p.proxy = { ...p.proxy, host: v }
      },
    ],
  ]
  for (const [what, mutate] of mutations) {
    for (const value of bad) {
      const plan = cases[0].plan()
      mutate(plan, value)
      assert.throws(
        () => renderEnvoyConf(plan, home),
        (e: unknown) => e instanceof BackendManagerError && e.code === 'CONFIG',
        `${what} ${JSON.stringify(value)}`,
      )
    }
  }
  assert.throws(() => renderEnvoyConf(cases[0].plan(), fixedHome('/srv/a\nb')), BackendManagerError)
})

test('Envoy listens on IP addresses only', () => {
  assert.equal(listenAddress('127.0.0.1'), '127.0.0.1')
  assert.equal(listenAddress('[::1]'), '::1')
  assert.equal(listenAddress('0.0.0.0'), '0.0.0.0')
  assert.equal(listenAddress('localhost'), '127.0.0.1')
  assert.throws(() => listenAddress('example.com'), /envoy listens on IP addresses only/)
})

test('the proxy binds its front ports, gRPC port and (Envoy) admin port; proxy.port only with HTTP servers', () => {
  assert.deepEqual(proxyPorts(cases[0].plan()), [8000, 9901])
  assert.deepEqual(proxyPorts(fromYaml(MIXED)), [9000, 9050, 9901])
  assert.deepEqual(proxyPorts(fromYaml(GRPC_POOL)), [50051, 9901])
  assert.deepEqual(proxyPorts(fromYaml(GRPC_POOL.replace('type: envoy', 'type: nginx'))), [50051])
  assert.deepEqual(proxyPorts(fromYaml(GRPC_POOL.replace('type: envoy', 'type: none'))), [])
})

test('envoy runs with a config, a base id of its own per state folder, one worker and its log file', () => {
  const a = resolveHome({}, '/', '/srv/stack-a')
  const b = resolveHome({}, '/', '/srv/stack-b')
  assert.equal(baseIdFor(a), baseIdFor(resolveHome({}, '/srv', 'stack-a')), 'the same folder always gets the same id')
  assert.notEqual(baseIdFor(a), baseIdFor(b))
  assert.ok(baseIdFor(a) > 0 && baseIdFor(a) <= 100_000_000)
  assert.deepEqual(envoyArgs(a), [
    '-c',
    '/srv/stack-a/run/envoy.yaml',
    '--base-id',
    String(baseIdFor(a)),
    '--concurrency',
    '1',
    '--log-path',
    '/srv/stack-a/logs/envoy.log',
  ])
  assert.equal(parseEnvoyVersion('envoy  version: 8bb2f9b2/1.31.2/Clean/RELEASE/BoringSSL'), '1.31.2')
})

test('the admin API view: healthy, failing and pending instances', () => {
  const sock = (port: number) => ({ socket_address: { address: '127.0.0.1', port_value: port } })
  const json = {
    cluster_statuses: [
      {
        name: 'worker',
        host_statuses: [
          { address: sock(50055), health_status: { eds_health_status: 'HEALTHY' } },
          { address: sock(50056), health_status: { failed_active_health_check: true, eds_health_status: 'HEALTHY' } },
          { address: sock(50057), health_status: { pending_active_hc: true, eds_health_status: 'HEALTHY' } },
        ],
      },
    ],
  }
  assert.deepEqual(
    parseClusters(json).map((h) => [h.cluster, h.port, h.healthy, h.detail]),
    [
      ['worker', 50055, true, 'healthy'],
      ['worker', 50056, false, 'failed active health check'],
      ['worker', 50057, false, 'pending first health check'],
    ],
  )
  assert.deepEqual(parseClusters({}), [])
})

const envoy = findEnvoy(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
const noEnvoy = `envoy not found on PATH (nor in .local/bin): ${'"backend-manager check-envoy" says where to get one'}`

for (const c of cases) {
  test(`envoy --mode validate accepts: ${c.name}`, (t) => {
    if (!envoy) return t.skip(noEnvoy)
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-envoy-validate-'))
    t.after(() => fs.rmSync(root, { recursive: true, force: true }))
    const tempHome = resolveHome({}, root, root)
    fs.mkdirSync(tempHome.logs, { recursive: true })
    fs.mkdirSync(tempHome.run, { recursive: true })
    fs.writeFileSync(envoyPaths(tempHome).conf, renderEnvoyConf(c.plan(), tempHome))
    const result = validateEnvoyConf(envoy, envoyPaths(tempHome).conf, process.env)
    assert.ok(result.ok, result.output)
  })
}

test('check-envoy names the binary, or says it found none and where to get one', async (t) => {
  const home = useHome(t, 'bm-check-envoy-')
  const result = await home.cli(['check-envoy'])
  if (envoy) {
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^envoy: +\/.*\nsource: .*\nversion: +\S+/m)
  } else {
    assert.equal(result.code, 1)
    assert.match(result.stderr, /envoy not found \(looked at .*\)/)
    assert.match(result.stderr, /brew install envoy/)
  }
})

test('gen-envoy-conf prints what start would write, or writes it with -o', async (t) => {
  const home = useHome(t, 'bm-gen-envoy-')
  const printed = await home.cli(['gen-envoy-conf', devConfig])
  assert.equal(printed.code, 0, printed.stderr)
  assert.match(printed.stderr, /proxy\.type "nginx"; "start" will not run this Envoy config/)
  assert.equal(printed.stdout, renderEnvoyConf(cases[0].plan(), resolveHome({}, '/', home.root)))
  const out = path.join(home.root, 'out', 'envoy.yaml')
  const written = await home.cli(['gen-envoy-conf', devConfig, '-o', out])
  assert.equal(written.code, 0, written.stderr)
  assert.equal(fs.readFileSync(out, 'utf8'), printed.stdout)
  const validated = await home.cli(['gen-envoy-conf', devConfig, '--validate'])
  if (envoy) assert.equal(validated.code, 0, validated.stderr)
  else {
    assert.equal(validated.code, 0, validated.stderr)
    assert.match(validated.stderr, /checked against Envoy's v3 API protos \(no envoy binary found.*\): .* is valid/)
  }
})

test('start with proxy.type envoy and no envoy: a clear error, exit 1, nothing started', async (t) => {
  if (envoy) return t.skip(`envoy is installed (${envoy.path}); the missing-binary case cannot be shown here`)
  const home = useHome(t, 'bm-envoy-missing-')
  const base = await freePorts(3)
  const config = home.writeConfig({
    proxy: { type: 'envoy', host: '127.0.0.1', port: base + 2, admin_port: base + 1 },
    servers: [{ name: 'web', command: 'node --import tsx examples/server.ts', port: base, health: '/health' }],
  })
  const result = await home.cli(['start', config])
  assert.equal(result.code, 1, result.stdout + result.stderr)
  assert.match(result.stderr, /^Error: envoy not found/m)
  assert.equal(home.state(), undefined, 'no state file')
  assert.equal(await listening(base), false, 'the server was never started')
  assert.deepEqual(home.processes(), [])
})

test('a real stack behind Envoy: HTTP and gRPC round-robin, admin health view, stop frees every port', async (t) => {
  if (!envoy) return t.skip(noEnvoy)
  const home = useHome(t, 'bm-envoy-e2e-')
  const base = await freePorts(8)
  const [rpc, front, grpcFront, admin] = [base + 3, base + 5, base + 6, base + 7]
  const config = home.writeConfig({
    proxy: { type: 'envoy', host: '127.0.0.1', port: front, grpc_port: grpcFront, admin_port: admin },
    servers: [
      { name: 'web', command: 'node --import tsx examples/server.ts', port: base, instances: 3, health: '/health' },
      { name: 'rpc', command: 'node --import tsx examples/grpc-server.ts', port: rpc, instances: 2, protocol: 'grpc' },
    ],
  })
  const started = await home.cli(['start', config])
  assert.equal(started.code, 0, started.stdout + started.stderr)
  assert.match(started.stdout, /ready +envoy /)
  const seen: number[] = []
  for (let i = 0; i < 6; i++) seen.push((await httpGet(`http://127.0.0.1:${front}/x`)).json().instance)
  assert.deepEqual(new Set(seen), new Set([0, 1, 2]), `HTTP round-robin reached every instance: ${seen.join(',')}`)
  const ports = new Set<number>()
  for (let i = 0; i < 6; i++) {
    const reply = await unaryCall(`127.0.0.1:${grpcFront}`, '/demo.Echo/WhoAmI', Buffer.alloc(0), 5000)
    assert.ok(reply.ok, JSON.stringify(reply))
    if (reply.ok) ports.add(int(decodeMessage(reply.value), 4))
  }
  assert.deepEqual(ports, new Set([rpc, rpc + 1]), 'gRPC calls reached both instances')
  const health = await waitFor(
    async () => {
      const r = await home.cli(['health'])
      return r.code === 0 && r.stdout.match(/ envoy +ok +envoy: healthy/g)?.length === 5 ? r : undefined
    },
    15_000,
    'Envoy to report all 5 instances healthy',
  )
  assert.match(health.stdout, /^rpc +proxy +ok +grpc SERVING/m)
  const stopped = await home.cli(['stop'])
  assert.equal(stopped.code, 0, stopped.stderr)
  for (let port = base; port <= admin; port++) assert.equal(await listening(port), false, `port ${port} is free`)
})
