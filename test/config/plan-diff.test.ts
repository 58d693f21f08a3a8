import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { parseConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { describeDiff, diffPlans, hasChanges } from '../../lib/config/plan-diff.ts'
import { packageRoot } from '../../lib/core/home.ts'

const plan = (servers: string, proxy = 'proxy: { port: 9000 }') =>
  resolvePlan(parseConfig(`${proxy}\nservers:\n${servers}`, path.join(packageRoot, 'diff.yaml')))

const base = `  - { name: web, command: node web.js, port: 8000, health: /health }
  - { name: api, command: node api.js, port: 8010, instances: 2, modules: [api], env: { FLAVOR: plain } }
  - { name: old, command: node old.js, port: 8020, modules: [old] }
  - { name: worker, command: node worker.js }
`
const ids = (specs: { id: string }[]) => specs.map((s) => s.id)

test('the same plan has no changes', () => {
  const diff = diffPlans(plan(base), plan(base))
  assert.equal(hasChanges(diff), false)
  assert.deepEqual(diff.servers.unchanged, ['web', 'api', 'old', 'worker'])
  assert.deepEqual(diff.instances.unchanged, ['web-0', 'api-0', 'api-1', 'old-0', 'worker-0'])
  assert.deepEqual(describeDiff(diff), ['unchanged web, api, old, worker'])
})

test('servers added, removed and changed, with why, and the routes and upstreams that follow', () => {
  const next = `  - { name: web, command: node web.js, port: 8000, health: /health }
  - { name: api, command: node api.js, port: 8010, instances: 2, modules: [api], env: { FLAVOR: spicy } }
  - { name: extra, command: node extra.js, port: 8030, modules: [extra] }
  - { name: worker, command: node worker.js, restart: always }
`
  const diff = diffPlans(plan(base), plan(next))
  assert.equal(hasChanges(diff), true)
  assert.deepEqual(diff.servers.added, ['extra'])
  assert.deepEqual(diff.servers.removed, ['old'])
  assert.deepEqual(diff.servers.unchanged, ['web'])
  assert.deepEqual(ids(diff.instances.added), ['extra-0'])
  assert.deepEqual(diff.instances.removed, ['old-0'])
  assert.deepEqual(ids(diff.instances.restarted), ['api-0', 'api-1'])
  assert.equal(diff.instances.restarted[0].env.FLAVOR, 'spicy', 'the new spec to restart with')
  assert.deepEqual(ids(diff.instances.updated), ['worker-0'], 'a restart policy needs no restart')
  assert.deepEqual(diff.instances.unchanged, ['web-0'])
  assert.deepEqual(describeDiff(diff), [
    'added    extra (extra-0)',
    'removed  old',
    'changed  api: env FLAVOR changed (restart api-0, api-1)',
    'changed  worker: restart on-failure -> always (update worker-0 in place)',
    'proxy    route /api/v1/extra/ws -> extra added',
    'proxy    route /api/v1/extra/ -> extra added',
    'proxy    route /api/v1/old/ws removed',
    'proxy    route /api/v1/old/ removed',
    'proxy    upstream extra added (ports 8030)',
    'proxy    upstream old removed',
    'unchanged web',
  ])
  assert.ok(!describeDiff(diff).join('\n').includes('spicy'), 'env values are not printed')
})

test('an instance count change starts or stops only the difference', () => {
  const four = base.replace('instances: 2', 'instances: 4')
  const up = diffPlans(plan(base), plan(four))
  assert.deepEqual(ids(up.instances.added), ['api-2', 'api-3'])
  assert.deepEqual(up.instances.restarted, [])
  assert.deepEqual(up.servers.changed[0].why, ['instances 2 -> 4'])
  assert.deepEqual(up.servers.changed[0].unchanged, ['api-0', 'api-1'])
  assert.deepEqual(up.proxy, ['upstream api: ports 8010, 8011 -> 8010, 8011, 8012, 8013'])
  const down = diffPlans(plan(four), plan(base))
  assert.deepEqual(down.instances.removed, ['api-2', 'api-3'])
  assert.deepEqual(down.instances.added, [])
  assert.deepEqual(describeDiff(down)[0], 'changed  api: instances 4 -> 2 (stop api-2, api-3)')
})

test('command, port, cwd, health, modules and depends_on each say what changed', () => {
  const next = base
    .replace('node web.js, port: 8000, health: /health', 'node web2.js, port: 8001, health: tcp, cwd: test')
    .replace('modules: [api]', 'modules: [api, v2], depends_on: [web]')
  const diff = diffPlans(plan(base), plan(next))
  const why = Object.fromEntries(diff.servers.changed.map((s) => [s.name, s.why]))
  assert.deepEqual(why.web, [
    'command "node web.js" -> "node web2.js"',
    'port 8000 -> 8001',
    `cwd ${packageRoot} -> ${path.join(packageRoot, 'test')}`,
    'health http /health -> tcp',
  ])
  assert.deepEqual(why.api, ['modules [api] -> [api, v2]', 'depends_on [] -> [web]'])
  assert.ok(diff.proxy.includes('route /api/v1/v2/ -> api added'), diff.proxy.join('\n'))
  assert.ok(diff.proxy.includes('upstream web: ports 8000 -> 8001'), diff.proxy.join('\n'))
})

test('a proxy type or listen change is refused, saying to use restart', () => {
  const diff = diffPlans(plan(base), plan(base, 'proxy: { port: 9000, type: envoy }'))
  assert.match(diff.refused!, /^proxy\.type: nginx -> envoy cannot be applied to a running stack; use "restart"/)
  assert.equal(hasChanges(diff), true)
  const moved = diffPlans(plan(base), plan(base, 'proxy: { port: 9001 }'))
  assert.match(moved.refused!, /^proxy\.port: 9000 -> 9001 .*use "restart"/)
  assert.deepEqual(describeDiff(moved), [`refused  ${moved.refused}`])
  // A stack of workers runs no proxy: routing a server through it needs one started.
  const workers = '  - { name: worker, command: node worker.js }\n'
  const routed = diffPlans(plan(workers), plan(workers + '  - { name: web, command: node web.js, port: 8000 }\n'))
  assert.match(routed.refused!, /^proxy\.type: none \(no server behind it\) -> nginx cannot be applied/)
  // Without a proxy, where it would listen does not matter.
  const none = 'proxy: { type: none, port: 9000 }'
  assert.equal(diffPlans(plan(base, none), plan(base, none.replace('9000', '9001'))).refused, undefined)
})
