import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan, shellQuote, type Plan } from '../../lib/config/plan.ts'
import { scaledPlan, unscaledPlan } from '../../lib/config/scaled-plan.ts'
import { planJson, formatPlan } from '../../lib/cli/plan-format.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-plan-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

let counter = 0
function plan(yaml: string, only?: string[]): Plan {
  const file = path.join(dir, `stack-${counter++}.yaml`)
  fs.writeFileSync(file, yaml)
  return resolvePlan(loadConfig(file), only)
}

const ids = (p: Plan) => p.processes.map((proc) => proc.id)

const orderCases: { name: string; yaml: string; only?: string[]; want: string[] }[] = [
  {
    name: 'config order without dependencies',
    yaml: 'servers:\n  - { name: c, command: x }\n  - { name: a, command: x }\n  - { name: b, command: x }\n',
    want: ['c-0', 'a-0', 'b-0'],
  },
  {
    name: 'a dependency listed later starts first',
    yaml: 'servers:\n  - { name: a, command: x }\n  - { name: b, command: x, depends_on: [c] }\n  - { name: c, command: x }\n',
    want: ['a-0', 'c-0', 'b-0'],
  },
  {
    name: 'a chain runs backwards',
    yaml:
      'servers:\n  - { name: a, command: x, depends_on: [b] }\n  - { name: b, command: x, depends_on: [c] }' +
      '\n  - { name: c, command: x }\n',
    want: ['c-0', 'b-0', 'a-0'],
  },
  {
    name: 'a diamond keeps config order among ready servers',
    yaml:
      'servers:\n  - { name: top, command: x, depends_on: [left, right] }\n' +
      '  - { name: right, command: x, depends_on: [db] }\n  - { name: left, command: x, depends_on: [db] }\n' +
      '  - { name: db, command: x }\n',
    want: ['db-0', 'right-0', 'left-0', 'top-0'],
  },
  {
    name: 'instances of a server stay together',
    yaml: 'servers:\n  - { name: a, command: x, port: 9000, instances: 2, depends_on: [b] }\n  - { name: b, command: x }\n',
    want: ['b-0', 'a-0', 'a-1'],
  },
  {
    name: '--only pulls in dependencies',
    yaml:
      'servers:\n  - { name: a, command: x }\n  - { name: b, command: x, depends_on: [c] }\n' +
      '  - { name: c, command: x, depends_on: [d] }\n  - { name: d, command: x }\n',
    only: ['b'],
    want: ['d-0', 'c-0', 'b-0'],
  },
  {
    name: '--only with several names',
    yaml: 'servers:\n  - { name: a, command: x }\n  - { name: b, command: x }\n  - { name: c, command: x }\n',
    only: ['c', 'a'],
    want: ['a-0', 'c-0'],
  },
]

for (const c of orderCases) {
  test(`start order: ${c.name}`, () => {
    assert.deepEqual(ids(plan(c.yaml, c.only)), c.want)
  })
}

const onlyErrors: { name: string; only: string[]; message: string }[] = [
  {
    name: 'an unknown name',
    only: ['nope'],
    message: '--only: unknown server "nope", expected one of the servers in FILE: api, web',
  },
  {
    name: 'a typo',
    only: ['api', 'wbe'],
    message: '--only: unknown server "wbe" (did you mean "web"?), expected one of the servers in FILE: api, web',
  },
  {
    name: 'no name at all',
    only: [],
    message: '--only: no server named, expected a comma list of servers from FILE: api, web',
  },
]

for (const c of onlyErrors) {
  test(`--only rejects ${c.name}`, () => {
    const file = path.join(dir, 'only.yaml')
    fs.writeFileSync(file, 'servers:\n  - { name: api, command: x }\n  - { name: web, command: x }\n')
    const config = loadConfig(file)
    assert.throws(() => resolvePlan(config, c.only), {
      code: 'USAGE',
      exitCode: 2,
      message: c.message.replace('FILE', file),
    })
  })
}

const commandCases: { name: string; command: string; port?: number; want: { argv: string[]; command: string }[] }[] = [
  {
    name: 'a string runs through the shell with placeholders filled',
    command: '"node s.js --port {port} --instance {instance} --name {name}"',
    port: 9100,
    want: [0, 1].map((i) => {
      const line = `node s.js --port ${9100 + i} --instance ${i} --name api`
      return { argv: ['/bin/sh', '-c', `exec ${line}`], command: line }
    }),
  },
  {
    name: 'a list runs directly with placeholders filled in each argument',
    command: '[node, s.js, "--port={port}", "{name}-{instance}"]',
    port: 9200,
    want: [0, 1].map((i) => ({
      argv: ['node', 's.js', `--port=${9200 + i}`, `api-${i}`],
      command: `node s.js --port=${9200 + i} api-${i}`,
    })),
  },
  {
    name: 'a list argument with a space stays one argument',
    command: '[echo, "two words", "it\'s"]',
    want: [0, 1].map(() => ({ argv: ['echo', 'two words', "it's"], command: `echo 'two words' 'it'\\''s'` })),
  },
  {
    name: 'unknown placeholders are left alone',
    command: '"run {other} {PORT} {instance}"',
    want: [0, 1].map((i) => ({
      argv: ['/bin/sh', '-c', `exec run {other} {PORT} ${i}`],
      command: `run {other} {PORT} ${i}`,
    })),
  },
  {
    name: 'a placeholder used twice is filled twice',
    command: '"run {port}:{port}"',
    port: 9300,
    want: [0, 1].map((i) => ({
      argv: ['/bin/sh', '-c', `exec run ${9300 + i}:${9300 + i}`],
      command: `run ${9300 + i}:${9300 + i}`,
    })),
  },
  {
    name: 'a command with shell syntax keeps its shell (no exec)',
    command: '"sleep 1000 & run {port}"',
    port: 9400,
    want: [0, 1].map((i) => ({
      argv: ['/bin/sh', '-c', `sleep 1000 & run ${9400 + i}`],
      command: `sleep 1000 & run ${9400 + i}`,
    })),
  },
  {
    name: 'a leading assignment keeps its shell (exec would treat it as the program)',
    command: '"FOO=1 run {port}"',
    port: 9500,
    want: [0, 1].map((i) => ({ argv: ['/bin/sh', '-c', `FOO=1 run ${9500 + i}`], command: `FOO=1 run ${9500 + i}` })),
  },
]

for (const c of commandCases) {
  test(`command: ${c.name}`, () => {
    const port = c.port === undefined ? '' : `, port: ${c.port}`
    const p = plan(`servers:\n  - { name: api, command: ${c.command}, instances: 2${port} }\n`)
    assert.deepEqual(
      p.processes.map(({ argv, command }) => ({ argv, command })),
      c.want,
    )
  })
}

test('shellQuote leaves plain words alone and quotes the rest', () => {
  const cases: [string, string][] = [
    ['node', 'node'],
    ['--port=9000', '--port=9000'],
    ['a b', "'a b'"],
    ['$HOME', "'$HOME'"],
    ["it's", "'it'\\''s'"],
    ['', "''"],
  ]
  for (const [arg, want] of cases) assert.equal(shellQuote(arg), want, arg)
})

const envCases: { name: string; yaml: string; want: Record<string, string>[] }[] = [
  {
    name: 'a server with a port and modules',
    yaml: 'proxy: { api_prefix: /v2 }\nservers:\n  - { name: shop, command: x, port: 9400, instances: 2, modules: [cart, orders] }\n',
    want: [0, 1].map((i) => ({
      HOST: '127.0.0.1',
      SERVER_NAME: 'shop',
      INSTANCE: String(i),
      ENABLED_MODULES: 'cart,orders',
      API_PREFIX: '/v2',
      PORT: String(9400 + i),
      PYTHONUNBUFFERED: '1',
    })),
  },
  {
    name: 'a portless worker gets no PORT',
    yaml: 'servers:\n  - { name: worker, command: x, host: localhost }\n',
    want: [
      {
        HOST: 'localhost',
        SERVER_NAME: 'worker',
        INSTANCE: '0',
        ENABLED_MODULES: '',
        API_PREFIX: '/api/v1',
        PYTHONUNBUFFERED: '1',
      },
    ],
  },
  {
    name: "the server's env is added, with placeholders filled",
    yaml:
      'servers:\n  - { name: api, command: x, port: 9500, instances: 2' +
      ', env: { LOG_LEVEL: debug, SELF: "http://localhost:{port}/{name}/{instance}", N: 3 } }\n',
    want: [0, 1].map((i) => ({
      LOG_LEVEL: 'debug',
      SELF: `http://localhost:${9500 + i}/api/${i}`,
      N: '3',
      HOST: '127.0.0.1',
      SERVER_NAME: 'api',
      INSTANCE: String(i),
      ENABLED_MODULES: '',
      API_PREFIX: '/api/v1',
      PORT: String(9500 + i),
      PYTHONUNBUFFERED: '1',
    })),
  },
  {
    name: 'PYTHONUNBUFFERED set in the config is kept as it is',
    yaml: 'servers:\n  - { name: py, command: x, env: { PYTHONUNBUFFERED: "" } }\n',
    want: [
      {
        PYTHONUNBUFFERED: '',
        HOST: '127.0.0.1',
        SERVER_NAME: 'py',
        INSTANCE: '0',
        ENABLED_MODULES: '',
        API_PREFIX: '/api/v1',
      },
    ],
  },
]

for (const c of envCases) {
  test(`env: ${c.name}`, () => {
    assert.deepEqual(
      plan(c.yaml).processes.map((p) => p.env),
      c.want,
    )
  })
}

test('ports, readiness and timeouts per instance', () => {
  const p = plan(
    'servers:\n' +
      '  - { name: web, command: x, port: 9600, instances: 3, health: /healthz, ready_timeout: 2.5, stop_timeout: 0.2 }\n' +
      '  - { name: db, command: x, port: 9700, modules: [db] }\n' +
      '  - { name: rpc, command: x, port: 9800, protocol: grpc, health: /ignored }\n' +
      '  - { name: worker, command: x, restart: always, max_restarts: 2 }\n',
  )
  assert.deepEqual(
    p.processes.map((proc) => [
      proc.id,
      proc.port,
      proc.readiness,
      proc.readyTimeoutMs,
      proc.stopTimeoutMs,
      proc.restart,
      proc.maxRestarts,
    ]),
    [
      ['web-0', 9600, { kind: 'http', path: '/healthz' }, 2500, 200, 'on-failure', 5],
      ['web-1', 9601, { kind: 'http', path: '/healthz' }, 2500, 200, 'on-failure', 5],
      ['web-2', 9602, { kind: 'http', path: '/healthz' }, 2500, 200, 'on-failure', 5],
      ['db-0', 9700, { kind: 'tcp' }, 30000, 3000, 'on-failure', 5],
      // gRPC servers are asked through the gRPC health service: an HTTP GET means nothing to them.
      ['rpc-0', 9800, { kind: 'grpc' }, 30000, 3000, 'on-failure', 5],
      ['worker-0', undefined, { kind: 'none' }, 30000, 3000, 'always', 2],
    ],
  )
})

test('cwd and dependencies are carried to every process', () => {
  fs.mkdirSync(path.join(dir, 'svc'), { recursive: true })
  const p = plan(
    'servers:\n  - { name: db, command: x }\n  - { name: api, command: x, cwd: svc, depends_on: [db], instances: 2, port: 9900 }\n',
  )
  assert.deepEqual(
    p.processes.map((proc) => [proc.id, proc.cwd, proc.dependsOn]),
    [
      ['db-0', dir, []],
      ['api-0', path.join(dir, 'svc'), ['db']],
      ['api-1', path.join(dir, 'svc'), ['db']],
    ],
  )
})

const routeCases: {
  name: string
  yaml: string
  only?: string[]
  routes: [string, string, boolean][]
  upstreams: [string, number[]][]
}[] = [
  {
    name: 'a websocket and an http route per module, "/" to the server without modules',
    yaml:
      'servers:\n  - { name: core, command: x, port: 9000 }\n' +
      '  - { name: shop, command: x, port: 9001, instances: 2, modules: [cart, orders] }\n',
    routes: [
      ['/api/v1/cart/ws', 'shop', true],
      ['/api/v1/cart/', 'shop', false],
      ['/api/v1/orders/ws', 'shop', true],
      ['/api/v1/orders/', 'shop', false],
      ['/', 'core', false],
    ],
    upstreams: [
      ['core', [9000]],
      ['shop', [9001, 9002]],
    ],
  },
  {
    name: 'no "/" route when every server has modules',
    yaml: 'proxy: { api_prefix: /x }\nservers:\n  - { name: a, command: x, port: 9000, modules: [m] }\n',
    routes: [
      ['/x/m/ws', 'a', true],
      ['/x/m/', 'a', false],
    ],
    upstreams: [['a', [9000]]],
  },
  {
    name: 'portless servers are not routed',
    yaml: 'servers:\n  - { name: worker, command: x, instances: 3 }\n  - { name: web, command: x, port: 9000, instances: 3 }\n',
    routes: [['/', 'web', false]],
    upstreams: [['web', [9000, 9001, 9002]]],
  },
  {
    name: '--only routes only the selected servers',
    yaml:
      'servers:\n  - { name: core, command: x, port: 9000 }\n' +
      '  - { name: a, command: x, port: 9001, modules: [a] }\n' +
      '  - { name: b, command: x, port: 9002, modules: [b], depends_on: [a] }\n',
    only: ['b'],
    routes: [
      ['/api/v1/a/ws', 'a', true],
      ['/api/v1/a/', 'a', false],
      ['/api/v1/b/ws', 'b', true],
      ['/api/v1/b/', 'b', false],
    ],
    upstreams: [
      ['a', [9001]],
      ['b', [9002]],
    ],
  },
]

for (const c of routeCases) {
  test(`routes: ${c.name}`, () => {
    const p = plan(c.yaml, c.only)
    assert.deepEqual(
      p.routes.map((r) => [r.path, r.upstream, r.websocket]),
      c.routes,
    )
    assert.deepEqual(
      p.upstreams.map((u) => [u.name, u.ports]),
      c.upstreams,
    )
  })
}

test('planJson gives each route the ports of its upstream and null for no proxy', () => {
  const yaml = 'servers:\n  - { name: web, command: x, port: 9000, instances: 2 }\n  - { name: w, command: x }\n'
  const json = planJson(plan(yaml))
  assert.deepEqual(json.routes, [{ path: '/', websocket: false, upstream: 'web', ports: [9000, 9001] }])
  assert.deepEqual(
    json.processes.map((p) => [p.id, p.port, p.readiness]),
    [
      ['web-0', 9000, 'tcp'],
      ['web-1', 9001, 'tcp'],
      ['w-0', null, 'none'],
    ],
  )
  assert.equal(planJson(plan(`proxy: { type: none }\n${yaml}`)).proxy, null)
})

test('formatPlan leaves out routes when there is no proxy', () => {
  const text = formatPlan(plan('proxy: { type: none }\nservers:\n  - { name: web, command: x, port: 9000 }\n'))
  assert.match(text, /^Proxy: none$/m)
  assert.doesNotMatch(text, /Routes:/)
  assert.match(text, /^web-0 +9000 +tcp +x +/m)
})

test('behind_proxy: false keeps a server with a port out of upstreams and routes, and out of the "/" contest', () => {
  const p = plan(
    [
      'servers:',
      '  - { name: api, command: run, port: 9600, health: /health }',
      '  - { name: redis, command: redis-server, port: 9610, behind_proxy: false }',
    ].join('\n') + '\n',
  )
  assert.deepEqual(
    p.upstreams.map((u) => u.name),
    ['api'],
  )
  assert.deepEqual(
    p.routes.map((r) => `${r.path}->${r.upstream}`),
    ['/->api'],
  )
  assert.equal(p.upstreams[0].healthPath, '/health')
  assert.deepEqual(
    p.processes.map((x) => x.id),
    ['api-0', 'redis-0'],
  )
})

test('upstreams of a server listening on every address point at loopback', () => {
  const p = plan(
    [
      'servers:',
      '  - { name: v4, command: run, port: 9800, host: 0.0.0.0 }',
      '  - { name: v6, command: run, port: 9810, host: "::", modules: [six] }',
      '  - { name: lit, command: run, port: 9820, host: "[::1]", modules: [lit] }',
    ].join('\n') + '\n',
  )
  assert.deepEqual(
    p.upstreams.map((u) => [u.name, u.host]),
    [
      ['v4', '127.0.0.1'],
      ['v6', '::1'],
      ['lit', '::1'],
    ],
  )
  // The servers themselves still bind what the config says, IPv6 literals without brackets.
  assert.deepEqual(
    p.processes.map((x) => x.env.HOST),
    ['0.0.0.0', '::', '::1'],
  )
})

test('no proxy is planned when no selected server is behind it (--only worker); with one, it stays', () => {
  const yaml =
    'proxy: { type: nginx }\nservers:\n  - { name: core, command: x, port: 9000 }\n' +
    '  - { name: worker, command: x }\n  - { name: redis, command: x, port: 6379, behind_proxy: false }\n'
  assert.equal(plan(yaml, ['worker']).proxy.type, 'none')
  assert.equal(plan(yaml, ['worker', 'redis']).proxy.type, 'none')
  assert.equal(planJson(plan(yaml, ['worker'])).proxy, null)
  assert.equal(plan(yaml, ['core']).proxy.type, 'nginx')
  assert.equal(plan(yaml).proxy.type, 'nginx')
})

test('a server scaled to another count resolves its instances as the config would with that count', () => {
  const config = (n: number) =>
    'proxy: { type: nginx, port: 8000 }\nservers:\n  - { name: db, command: x }\n' +
    `  - { name: api, command: "serve --port {port} --id {instance}", port: 9000, instances: ${n}, ` +
    'env: { URL: "http://h:{port}/{name}" }, depends_on: [db] }\n  - { name: worker, command: [w, "{instance}"] }\n'
  const two = plan(config(2))
  const four = scaledPlan(two, 'api', 4)
  const strip = (p: Plan) => ({ ...p, file: undefined, scaled: undefined })
  assert.deepEqual(strip(four), strip(plan(config(4))))
  assert.deepEqual(four.scaled, { api: 2 })
  assert.deepEqual(ids(four), ['db-0', 'api-0', 'api-1', 'api-2', 'api-3', 'worker-0'])
  const api3 = four.processes.find((p) => p.id === 'api-3')!
  assert.deepEqual(api3.argv, ['/bin/sh', '-c', 'exec serve --port 9003 --id 3'])
  assert.equal(api3.env.PORT, '9003')
  assert.equal(api3.env.INSTANCE, '3')
  assert.equal(api3.env.URL, 'http://h:9003/api')
  assert.deepEqual(four.upstreams.find((u) => u.name === 'api')!.ports, [9000, 9001, 9002, 9003])
  // Scaled again, the config's count is kept; back at it, the plan is the config's own.
  assert.deepEqual(scaledPlan(four, 'api', 3).scaled, { api: 2 })
  assert.deepEqual(scaledPlan(four, 'api', 2), { ...two, scaled: undefined })
  assert.deepEqual(unscaledPlan(scaledPlan(four, 'worker', 3)), { ...two, scaled: undefined })
  const workers = scaledPlan(two, 'worker', 2)
  assert.deepEqual(
    workers.processes.filter((p) => p.server === 'worker').map((p) => [p.argv, p.port]),
    [
      [['w', '0'], undefined],
      [['w', '1'], undefined],
    ],
  )
})
