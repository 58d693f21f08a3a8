// Which restarts the live supervisor can do in place: the config must still say what runs, but for instance counts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { parseConfig } from '../../lib/config/load.ts'
import { resolvePlan, type Plan } from '../../lib/config/plan.ts'
import { packageRoot } from '../../lib/core/home.ts'
import { runsConfig } from '../../lib/stack/restart-only.ts'

function plan(apiInstances: number, webEnv = 'a', apiCommand = 'node http-server.mjs'): Plan {
  const yaml = `proxy: { host: 127.0.0.1, port: 9000 }
servers:
  - { name: api, command: ${apiCommand}, port: 9001, instances: ${apiInstances} }
  - { name: web, command: node http-server.mjs, port: 9010, modules: [web], env: { FLAVOUR: ${webEnv} } }
`
  return resolvePlan(parseConfig(yaml, path.join(packageRoot, 'restart-only.yaml')))
}

test('the same config runs in place, for the whole stack and for any server', () => {
  assert.equal(runsConfig(plan(2), plan(2)), true)
  assert.equal(runsConfig(plan(2), plan(2), ['api', 'web']), true)
})

test('instances scaled at runtime (more or fewer than the config says) are kept, not a change', () => {
  assert.equal(runsConfig(plan(4), plan(2)), true)
  assert.equal(runsConfig(plan(1), plan(2), ['api']), true)
})

test('a server whose config changed is restarted from its new config instead; others do not matter to --only', () => {
  assert.equal(runsConfig(plan(2, 'a', 'node other.mjs'), plan(2), ['api']), false)
  assert.equal(runsConfig(plan(2, 'b'), plan(2), ['api']), true)
  assert.equal(runsConfig(plan(2, 'b'), plan(2), ['web']), false)
  assert.equal(runsConfig(plan(2, 'b'), plan(2)), false)
})

test('a server the stack does not run, or a changed set of servers, is no restart in place', () => {
  const apiOnly = resolvePlan(parseConfig(`servers:\n  - { name: api, command: x, port: 9001 }\n`, 'a.yaml'))
  assert.equal(runsConfig(apiOnly, plan(1), ['web']), false)
  assert.equal(runsConfig(apiOnly, plan(1)), false)
})
