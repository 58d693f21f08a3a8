// The nginx renderer: golden files (UPDATE_GOLDEN=1 rewrites them), nginx -t on each, injection refusal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, parseConfig } from '../../lib/config/load.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { packageRoot, resolveHome, type Home } from '../../lib/core/home.ts'
import {
  defaultWorkerUser,
  nginxArgs,
  prepareNginxDirs,
  renderNginxConf,
  type RenderOptions,
} from '../../lib/proxy/nginx/render.ts'
import { checkInTempHome } from '../../lib/proxy/conf-check.ts'
import { hostPort } from '../../lib/proxy/contract.ts'
import { findNginx, testNginxConf, testPlanInTempHome } from '../../lib/proxy/nginx/install.ts'
import { resolvePlan, type Plan } from '../../lib/config/plan.ts'
import { fillTemplate, indentLines } from '../../lib/core/template.ts'

const goldenDir = path.join(packageRoot, 'test', 'golden')
// A frozen copy of the bundled config: its golden output must not follow edits to the user's dev-config.yaml.
const devConfig = path.join(packageRoot, 'test', 'fixtures', 'configs', 'dev-config.yaml')
const fixedHome = (root: string): Home => resolveHome({}, '/', root)

// IPv6 hosts, three instances, no server owning "/", a gRPC server and a portless worker.
const IPV6_NO_ROOT = `proxy:
  host: "::1"
  port: 9000
  api_prefix: /api/v2
servers:
  - name: orders
    command: node orders.js
    host: "::1"
    port: 9101
    instances: 3
    modules: [orders, billing]
  - name: search
    command: node search.js
    port: 9201
    modules: [search]
  - name: rpc
    command: node rpc.js
    port: 9301
    protocol: grpc
  - name: queue
    command: node queue.js
`

const SINGLE = `servers:
  - name: app
    command: node app.js
    port: 3001
`

// Only gRPC servers behind the proxy: an HTTP/2 listener on grpc_port and no HTTP/1.1 listener at all.
const GRPC_ONLY = `proxy:
  port: 8000
  grpc_port: 50051
servers:
  - name: pricer
    command: node pricer.js
    port: 50055
    instances: 3
    protocol: grpc
`

const fromYaml = (text: string) => resolvePlan(parseConfig(text, path.join(packageRoot, 'test', 'golden-case.yaml')))

const cases: { name: string; plan: () => Plan; home: Home; opts: RenderOptions }[] = [
  {
    name: 'dev-config',
    plan: () => resolvePlan(loadConfig(devConfig)),
    home: fixedHome('/srv/backend-manager'),
    opts: { mimeTypes: '/srv/backend-manager/conf/mime.types', user: null },
  },
  {
    name: 'ipv6-no-root',
    plan: () => fromYaml(IPV6_NO_ROOT),
    home: fixedHome('/srv/backend-manager'),
    opts: { user: null },
  },
  {
    name: 'root-user-spaced-home',
    plan: () => fromYaml(SINGLE),
    home: fixedHome('/home/dev user/stack/.local'),
    opts: { user: 'nobody nogroup' },
  },
  { name: 'grpc-only', plan: () => fromYaml(GRPC_ONLY), home: fixedHome('/srv/backend-manager'), opts: { user: null } },
]

for (const c of cases) {
  test(`golden: ${c.name}`, () => {
    const text = renderNginxConf(c.plan(), c.home, c.opts)
    const file = path.join(goldenDir, `nginx-${c.name}.conf`)
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, text)
    assert.equal(
      text,
      fs.readFileSync(file, 'utf8'),
      `${file} differs; rerun with UPDATE_GOLDEN=1 if the change is intended`,
    )
  })

  test(`nginx -t accepts: ${c.name}`, (t) => {
    const nginx = findNginx(resolveHome({}, os.tmpdir(), 'backend-manager-no-such-home'), process.env)
    if (!nginx) return t.skip('no nginx installed (make install-nginx)')
    const result = testPlanInTempHome(nginx, c.plan(), process.env)
    assert.ok(result.ok, result.output)
  })
}

test('the dev-config render has every required piece', () => {
  const text = renderNginxConf(resolvePlan(loadConfig(devConfig)), fixedHome('/srv/bm'), { user: null })
  const required = [
    'daemon off;',
    'pid /srv/bm/run/nginx.pid;',
    'error_log /srv/bm/logs/nginx-error.log',
    'access_log /srv/bm/logs/nginx-access.log backend_json',
    'client_body_temp_path /srv/bm/run/nginx-temp/client_body;',
    'proxy_temp_path /srv/bm/run/nginx-temp/proxy;',
    'fastcgi_temp_path /srv/bm/run/nginx-temp/fastcgi;',
    'uwsgi_temp_path /srv/bm/run/nginx-temp/uwsgi;',
    'scgi_temp_path /srv/bm/run/nginx-temp/scgi;',
    'upstream datafeed {\n        zone datafeed 64k;\n' +
      '        server 127.0.0.1:8002 max_fails=0;\n        server 127.0.0.1:8003',
    'keepalive 32;',
    'proxy_http_version 1.1;',
    "map $http_upgrade $connection_upgrade {\n        default upgrade;\n        '' '';\n    }",
    'proxy_set_header Connection $connection_upgrade;',
    'proxy_next_upstream error timeout;',
    'location = /api/v1/broker/ws {',
    'proxy_set_header Upgrade $http_upgrade;',
    'location = /api/v1/broker {\n            proxy_pass http://broker;',
    'location /api/v1/datafeed/ {',
    'location / {\n            proxy_pass http://core;',
    'listen 127.0.0.1:8000;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
  ]
  for (const piece of required) assert.ok(text.includes(piece), `missing: ${piece}`)
  assert.ok(!text.includes('{{'), 'an unfilled placeholder is left')
  assert.ok(!/^\s*user /m.test(text), 'user: null writes no user directive')
})

test('no server without modules: "/" answers 404 with JSON; the gRPC server gets its own HTTP/2 port', () => {
  const text = renderNginxConf(fromYaml(IPV6_NO_ROOT), fixedHome('/srv/bm'), { user: null })
  assert.match(text, /location \/ \{\n\s+default_type application\/json;\n\s+return 404 '\{"error":"not found"/)
  assert.match(text, /upstream orders \{\n\s+zone orders 64k;\n(\s+server \[::1\]:910[123] max_fails=0;\n){3}/)
  assert.ok(text.includes('listen [::1]:9000;'))
  assert.match(text, /upstream rpc \{\n\s+zone rpc 64k;\n\s+server \[::1\]:9301 max_fails=0;\n\s+keepalive 32;/)
  assert.match(text, /listen \[::1\]:50051 http2;[^}]*location \/ \{\n\s+grpc_pass grpc:\/\/rpc;/)
  assert.ok(!/location [^{]*\{\n\s+proxy_pass http:\/\/rpc/.test(text), 'no HTTP route leads to the gRPC server')
  assert.ok(!text.includes('queue'), 'a portless worker is not behind the proxy')
})

test('gRPC only: one HTTP/2 server block with grpc_pass, timeouts and keepalive; no HTTP/1.1 listener', () => {
  const text = renderNginxConf(fromYaml(GRPC_ONLY), fixedHome('/srv/bm'), { user: null })
  assert.match(
    text,
    /upstream pricer \{\n\s+zone pricer 64k;\n(\s+server 127\.0\.0\.1:5005[567] max_fails=0;\n){3}\s+keepalive 32;/,
  )
  for (const piece of [
    'listen 127.0.0.1:50051 http2;',
    'grpc_pass grpc://pricer;',
    'grpc_connect_timeout 2s;',
    'grpc_read_timeout 300s;',
    'grpc_send_timeout 300s;',
    'grpc_next_upstream error timeout;',
  ])
    assert.ok(text.includes(piece), `missing: ${piece}`)
  assert.equal(text.match(/^\s+server \{/gm)?.length, 1, 'exactly one server block')
  assert.ok(!text.includes('listen 127.0.0.1:8000'), 'proxy.port is not used without HTTP servers')
})

const bad = ['a b', 'a;b', 'a{b', 'a}b', 'a"b', "a'b", 'a#b', 'a$b', 'a\\b', 'a\nb', 'a\tb']

test('values that would inject into the config are refused', () => {
  const base = () => resolvePlan(loadConfig(devConfig))
  const home = fixedHome('/srv/bm')
  const mutations: [string, (plan: Plan, value: string) => void][] = [
    [
      'upstream name',
      (p, v) => {
        p.upstreams[0].name = v
        p.routes.forEach((r) => {
          if (r.upstream === 'core') r.upstream = v
        })
      },
    ],
    [
      'upstream host',
      (p, v) => {
        p.upstreams[1].host = v
      },
    ],
    [
      'route path',
      (p, v) => {
        p.routes[0].path = `/api/${v}/`
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
      const plan = base()
      mutate(plan, value)
      assert.throws(
        () => renderNginxConf(plan, home, { user: null }),
        (e: unknown) => e instanceof BackendManagerError && e.code === 'CONFIG',
        `${what} ${JSON.stringify(value)}`,
      )
    }
  }
  for (const value of bad.filter((v) => v !== 'a b')) {
    assert.throws(
      () => renderNginxConf(base(), fixedHome(`/srv/${value}`), { user: null }),
      BackendManagerError,
      `home ${JSON.stringify(value)}`,
    )
    assert.throws(
      () => renderNginxConf(base(), home, { user: null, mimeTypes: `/etc/${value}` }),
      BackendManagerError,
      `mime.types ${JSON.stringify(value)}`,
    )
  }
  assert.throws(() => renderNginxConf(base(), home, { user: 'root;' }), BackendManagerError)
  assert.throws(() => renderNginxConf(base(), home, { user: 'nobody nogroup x' }), BackendManagerError)
  assert.throws(() => renderNginxConf(base(), home, { mimeTypes: 'relative/mime.types' }), BackendManagerError)
})

test('hostPort brackets IPv6 literals', () => {
  const table: [string, number, string][] = [
    ['127.0.0.1', 8000, '127.0.0.1:8000'],
    ['localhost', 1, 'localhost:1'],
    ['::1', 8001, '[::1]:8001'],
    ['[::1]', 8002, '[::1]:8002'],
    ['fe80::1', 65535, '[fe80::1]:65535'],
  ]
  for (const [host, port, expected] of table) assert.equal(hostPort(host, port), expected)
  for (const port of [0, 65536, 1.5]) assert.throws(() => hostPort('127.0.0.1', port), BackendManagerError)
})

test('nginxArgs: absolute prefix and conf; -e only where nginx supports it', () => {
  const home = resolveHome({}, '/work', 'state')
  const withE = ['-p', '/work/state', '-c', '/work/state/run/nginx.conf', '-e', '/work/state/logs/nginx-error.log']
  const table: [string | undefined, string[]][] = [
    [undefined, withE],
    ['1.28.0', withE],
    ['1.22.1', withE],
    ['1.19.5', withE],
    ['1.19.4', withE.slice(0, 4)],
    ['1.18.0', withE.slice(0, 4)],
  ]
  for (const [version, expected] of table)
    assert.deepEqual(nginxArgs(home, { version }), expected, `version ${version}`)
  assert.deepEqual(nginxArgs(home, { version: '1.18.0', conf: '/tmp/x.conf' }), [
    '-p',
    '/work/state',
    '-c',
    '/tmp/x.conf',
  ])
})

test('template: values, indented blocks, empty blocks, and mistakes', () => {
  const template = 'a {{x}} b\n    {{block}}\n{{empty}}\nend'
  assert.equal(fillTemplate(template, { x: '1', block: 'one;\ntwo;', empty: '' }), 'a 1 b\n    one;\n    two;\nend')
  assert.throws(() => fillTemplate(template, { x: '1', block: '' }), /no value for \{\{empty\}\}/)
  assert.throws(() => fillTemplate('{{x}}', { x: '1', y: '2' }), /never used: y/)
  assert.deepEqual(indentLines(['a {', '', 'b;']), ['    a {', '', '    b;'])
})

test('as root the workers run as nobody, never as root', () => {
  const user = defaultWorkerUser()
  if (process.getuid?.() !== 0) return assert.equal(user, null)
  assert.match(user!, /^nobody (nogroup|nobody)$/)
  const text = renderNginxConf(fromYaml(SINGLE), fixedHome('/srv/bm'))
  assert.match(text, /^user nobody (nogroup|nobody);$/m)
  assert.ok(!/^\s*user root/m.test(text))
})

test('drained instances are marked down in their upstream; nginx -t accepts it; an unknown instance is refused', (t) => {
  const plan = fromYaml(IPV6_NO_ROOT)
  const text = renderNginxConf(plan, fixedHome('/srv/bm'), { user: null, drained: ['orders-1', 'search-0'] })
  assert.match(
    text,
    /server \[::1\]:9101 max_fails=0;\n\s+server \[::1\]:9102 max_fails=0 down;\n\s+server \[::1\]:9103 max_fails=0;/,
  )
  assert.ok(text.includes('server [::1]:9201 max_fails=0 down;'), 'a single instance can be drained too')
  assert.equal(text.match(/ down;/g)?.length, 2)
  assert.throws(
    () => renderNginxConf(plan, fixedHome('/srv/bm'), { user: null, drained: ['orders-3'] }),
    (e: unknown) => e instanceof BackendManagerError && /cannot drain "orders-3".*orders-0, orders-1/.test(e.message),
  )
  const nginx = findNginx(resolveHome({}, os.tmpdir(), 'backend-manager-no-such-home'), process.env)
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const checked = checkInTempHome(
    (home) => {
      prepareNginxDirs(home)
      fs.writeFileSync(home.nginxConf, renderNginxConf(plan, home, { drained: ['orders-1', 'search-0'] }))
      return home.nginxConf
    },
    (home, conf) => testNginxConf(nginx, home, conf, process.env),
  )
  assert.ok(checked.ok, checked.output)
})
