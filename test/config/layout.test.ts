// The single layout: the root server runs once on the proxy's front port with every module; nothing else behind the
// proxy runs, and no proxy does. Workers, tasks, gRPC servers and servers kept out of the proxy run as they are.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, type LoadOptions } from '../../lib/config/load.ts'
import { resolvePlan, type Plan } from '../../lib/config/plan.ts'
import { asStarted } from '../../lib/config/port-offset.ts'
import { formatPlan, planJson } from '../../lib/cli/plan-format.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-layout-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

let counter = 0
function write(yaml: string): string {
  const file = path.join(dir, `stack-${counter++}.yaml`)
  fs.writeFileSync(file, yaml)
  return file
}

function plan(yaml: string, opts: LoadOptions = {}, only?: string[]): Plan {
  return resolvePlan(loadConfig(write(yaml), opts), only)
}

const spec = (p: Plan, id: string) => p.processes.find((s) => s.id === id)
const ids = (p: Plan) => p.processes.map((s) => s.id)

const stack = `proxy: { port: 8000, host: 127.0.0.1 }
servers:
  - { name: redis, command: "redis-server --port {port}", port: 6390, behind_proxy: false }
  - { name: migrate, kind: task, command: ./migrate }
  - { name: broker, command: "broker {port}", port: 8001, instances: 2, modules: [broker, orders], depends_on: [redis] }
  - { name: core, command: "core --port {port}", port: 8004, instances: 2, health: /health, env: { LEVEL: debug },
      depends_on: [migrate] }
  - { name: datafeed, command: "feed {port}", port: 8003, modules: [datafeed], depends_on: [migrate] }
  - { name: worker, command: work, instances: 2, depends_on: [broker],
      env: { BROKER: "http://{host:broker}:{port:broker}" } }
  - { name: rpc, command: "rpc {port}", port: 50061, protocol: grpc, modules: [quotes] }
`

test('single layout: the root runs once on the front port with every module, in config order, and no proxy', () => {
  const p = plan(stack, { layout: 'single' })
  assert.deepEqual(ids(p), ['redis-0', 'migrate-0', 'core-0', 'worker-0', 'worker-1', 'rpc-0'])
  const core = spec(p, 'core-0')!
  assert.equal(core.port, 8000)
  assert.equal(core.host, '127.0.0.1')
  assert.equal(core.env.ENABLED_MODULES, 'broker,orders,datafeed')
  assert.equal(core.env.PORT, '8000')
  assert.equal(core.command, 'core --port 8000')
  // What the root says about itself is kept.
  assert.equal(core.env.LEVEL, 'debug')
  assert.deepEqual(core.readiness, { kind: 'http', path: '/health' })
  assert.equal(p.proxy.type, 'none')
  assert.equal(p.layout, 'single')
  assert.deepEqual(p.folded, { into: 'core', servers: ['broker', 'datafeed'] })
})

test('single layout: workers, tasks, servers out of the proxy and gRPC servers run as they are', () => {
  const multi = plan(stack)
  const single = plan(stack, { layout: 'single' })
  for (const id of ['redis-0', 'migrate-0', 'rpc-0', 'worker-1']) {
    const [a, b] = [spec(multi, id)!, spec(single, id)!]
    assert.deepEqual([b.port, b.argv, b.task], [a.port, a.argv, a.task], id)
  }
  assert.equal(spec(single, 'rpc-0')!.env.ENABLED_MODULES, 'quotes')
})

test('single layout: depends_on and {port:NAME} of a folded server point at the root, with no dangling edge', () => {
  const p = plan(stack, { layout: 'single' })
  // worker depended on broker, which the root now serves.
  assert.deepEqual(spec(p, 'worker-0')!.dependsOn, ['core'])
  assert.equal(spec(p, 'worker-0')!.env.BROKER, 'http://127.0.0.1:8000')
  // The root waits for what it and the servers folded into it waited for.
  assert.deepEqual(spec(p, 'core-0')!.dependsOn, ['migrate', 'redis'])
  // Start order still puts every dependency first.
  assert.ok(ids(p).indexOf('core-0') < ids(p).indexOf('worker-0'))
  assert.ok(ids(p).indexOf('redis-0') < ids(p).indexOf('core-0'))
})

test('single layout: a root that depended on a folded server does not depend on itself', () => {
  const yaml = `servers:
  - { name: api, command: x, port: 9001, modules: [api] }
  - { name: web, command: x, port: 9002, depends_on: [api] }
`
  assert.deepEqual(spec(plan(yaml, { layout: 'single' }), 'web-0')!.dependsOn, [])
})

test('single layout from the config key; the flag wins over it', () => {
  const keyed = `layout: single\n${stack}`
  assert.equal(plan(keyed).layout, 'single')
  assert.ok(spec(plan(keyed), 'core-0'))
  assert.equal(spec(plan(keyed), 'broker-0'), undefined)
  const multi = plan(keyed, { layout: 'multi' })
  assert.equal(multi.layout, undefined)
  assert.equal(multi.proxy.type, 'nginx')
  assert.equal(spec(multi, 'broker-1')!.port, 8002)
  assert.equal(spec(plan(stack, { layout: 'single' }), 'core-1'), undefined)
})

test('single layout with a port offset: the root listens on the moved front port', () => {
  const p = plan(stack, { layout: 'single', portOffset: { value: 100, from: '--port-offset' } })
  assert.equal(spec(p, 'core-0')!.port, 8100)
  assert.equal(spec(p, 'redis-0')!.port, 6490)
})

test('single layout: --only a folded server means the root', () => {
  assert.deepEqual(ids(plan(stack, { layout: 'single' }, ['datafeed'])), ['redis-0', 'migrate-0', 'core-0'])
})

test('single layout without a server that owns "/" is a config error naming the file, the key and the fix', () => {
  const file = write(`layout: single
servers:
  - { name: api, command: x, port: 9001, modules: [api] }
  - { name: web, command: x, port: 9002, modules: [web] }
`)
  assert.throws(() => loadConfig(file), {
    code: 'CONFIG',
    exitCode: 2,
    message:
      `${file}: layout: single runs one server without modules (the one behind the proxy at "/") with every` +
      ` module, but every server behind the proxy has modules (api, web); expected one server without modules:` +
      ` add one (e.g. a server with modules: [] that can load every module) or set layout: multi`,
  })
  assert.throws(
    () => loadConfig(file, { layout: 'single' }),
    /: --layout single runs one server .* or run it with --layout multi$/,
  )
  // The flag wins: the same file runs in the multi layout.
  assert.equal(resolvePlan(loadConfig(file, { layout: 'multi' })).processes.length, 2)
})

test('single layout: another server on the front port is a config error', () => {
  const file = write(`proxy: { type: none, port: 9003 }
servers:
  - { name: web, command: x, port: 9001 }
  - { name: api, command: x, port: 9002, modules: [api] }
  - { name: db, command: x, port: 9003, behind_proxy: false }
`)
  assert.equal(loadConfig(file).servers.length, 3)
  assert.throws(() => loadConfig(file, { layout: 'single' }), {
    code: 'CONFIG',
    message: new RegExp(`^${file}: servers\\[2\\]\\.port: port 9003 of "db" is proxy\\.port`),
  })
})

test('single layout: a dependency cycle made by the fold is a config error', () => {
  const file = write(`servers:
  - { name: web, command: x, port: 9001, depends_on: [worker] }
  - { name: api, command: x, port: 9002, modules: [api] }
  - { name: worker, command: x, depends_on: [api] }
`)
  assert.throws(() => loadConfig(file, { layout: 'single' }), {
    code: 'CONFIG',
    message: /--layout single: with api served by "web", dependency cycle "web" -> "worker" -> "web"/,
  })
})

test('plan shows the layout and which servers were folded into which process', () => {
  const p = plan(stack, { layout: 'single' })
  const text = formatPlan(p)
  assert.match(text, /^Layout: single \(broker, datafeed folded into core-0 on 127\.0\.0\.1:8000; no proxy\)$/m)
  assert.match(text, /^Proxy: none$/m)
  const json = planJson(p)
  assert.equal(json.layout, 'single')
  assert.deepEqual(json.folded, { into: 'core-0', servers: ['broker', 'datafeed'] })
  assert.equal(planJson(plan(stack)).layout, 'multi')
  assert.doesNotMatch(formatPlan(plan(stack)), /Layout/)
})

test('restart and apply read the running stack with its layout unless another is given', () => {
  assert.equal(asStarted({ layout: 'single' }, undefined, {}).layout, 'single')
  // A stack that runs without one runs the multi layout, whatever its config's key says now.
  assert.equal(asStarted({}, undefined, {}).layout, 'multi')
  assert.equal(asStarted(undefined, undefined, {}).layout, undefined)
})

test("single layout: a task's then_restart and the folded servers' watch: reach the root", () => {
  const yaml = `servers:
  - { name: gen, kind: task, command: x, watch: [spec], then_restart: [api, web] }
  - { name: web, command: x, port: 9001, watch: { paths: [web], debounce: 100 } }
  - { name: api, command: x, port: 9002, modules: [api], watch: { paths: [api, spec], ignore: ["*.tmp"] } }
`
  const p = plan(yaml, { layout: 'single' })
  assert.deepEqual(spec(p, 'gen-0')!.thenRestart, ['web'])
  const { paths, ignore, debounce } = spec(p, 'web-0')!.watch!
  assert.deepEqual({ paths, ignore, debounce }, { paths: ['web', 'api', 'spec'], ignore: ['*.tmp'], debounce: 300 })
})
