// `watch:` and `then_restart` in a config: the short and long forms, their defaults, what the plan carries and
// what apply sees as changed, and every bad value named with what was expected.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { diffPlans } from '../../lib/config/plan-diff.ts'
import { formatPlan, planJson } from '../../lib/cli/plan-format.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-watch-config-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
const file = path.join(dir, 'dev-config.yaml')

const parse = (servers: string) => parseConfig(`proxy: { type: none }\nservers:\n${servers}`, file)
function problems(servers: string): string {
  try {
    parse(servers)
  } catch (error) {
    return (error as Error).message
  }
  return assert.fail('expected the config to be rejected')
}

test('watch: [paths] is the short form: relative to the config folder, default ignores none of its own, 300 ms', () => {
  const config = parse('  - { name: api, command: run, port: 9000, watch: [src, "lib/**/*.py"] }\n')
  assert.deepEqual(config.servers[0].watch, { root: dir, paths: ['src', 'lib/**/*.py'], ignore: [], debounce: 300 })
  assert.equal(config.servers[0].then_restart, undefined)
})

test('the mapping form takes paths, ignore and debounce; the plan carries them to every instance', () => {
  const config = parse(
    '  - { name: gen, command: run, watch: { paths: [spec], ignore: [out], debounce: 50 }, then_restart: [api] }\n' +
      '  - { name: api, command: run, port: 9000, instances: 2 }\n',
  )
  const plan = resolvePlan(config)
  const gen = plan.processes.find((p) => p.server === 'gen')!
  assert.deepEqual(gen.watch, { root: dir, paths: ['spec'], ignore: ['out'], debounce: 50 })
  assert.deepEqual(gen.thenRestart, ['api'])
  assert.ok(plan.processes.filter((p) => p.server === 'api').every((p) => p.watch === undefined))
  const json = planJson(plan).processes.find((p) => p.id === 'gen-0')!
  assert.deepEqual([json.watch, json.then_restart], [{ paths: ['spec'], ignore: ['out'], debounce: 50 }, ['api']])
  assert.match(
    formatPlan(plan),
    /^Watched with start --watch:\ngen: spec, ignoring out \(debounce 50 ms, then restarts api\)$/m,
  )
})

test('a changed watch is applied in place: no restart', () => {
  const before = resolvePlan(parse('  - { name: api, command: run, port: 9000, watch: [src] }\n'))
  const after = resolvePlan(parse('  - { name: api, command: run, port: 9000, watch: [src, lib] }\n'))
  const diff = diffPlans(before, after)
  assert.deepEqual(diff.servers.changed[0].why, ['watch changed'])
  assert.deepEqual(diff.instances.restarted, [])
  assert.deepEqual(
    diff.instances.updated.map((p) => p.id),
    ['api-0'],
  )
})

test('bad values are named with what was expected', () => {
  const F = 'dev-config.yaml'
  assert.match(
    problems('  - { name: api, command: run, watch: src }\n'),
    new RegExp(`${F}: servers\\[0\\]\\.watch: "src" is neither a list nor a mapping, expected a list of paths`),
  )
  assert.match(
    problems('  - { name: api, command: run, watch: { debounce: -1 } }\n'),
    /servers\[0\]\.watch\.debounce: -1 is out of range, expected milliseconds from 0 to 60000/,
  )
  assert.match(
    problems('  - { name: api, command: run, watch: { debounce: 10 } }\n'),
    /servers\[0\]\.watch\.paths: missing, expected a list of paths or globs, relative to the config file/,
  )
  assert.match(
    problems('  - { name: api, command: run, watch: { paths: [src], ignroe: [x] } }\n'),
    /servers\[0\]\.watch\.ignroe: unknown key \(did you mean "ignore"\?\), expected one of paths, ignore, debounce/,
  )
  assert.match(problems('  - { name: api, command: run, watch: [] }\n'), /servers\[0\]\.watch: no path to watch/)
  assert.match(problems('  - { name: api, command: run, watch: [""] }\n'), /servers\[0\]\.watch\[0\]: "" is not a name/)
})

test('then_restart names other servers, and needs a watch', () => {
  const two = (extra: string) =>
    problems(`  - { name: gen, command: run${extra} }\n  - { name: api, command: run, port: 9000 }\n`)
  assert.match(
    two(', watch: [spec], then_restart: [apl]'),
    /then_restart\[0\]: no server named "apl" \(did you mean "api"\?\)/,
  )
  assert.match(two(', watch: [spec], then_restart: [gen]'), /then_restart\[0\]: "gen" is this server itself/)
  assert.match(two(', then_restart: [api]'), /servers\[0\]\.then_restart: "gen" has no watch, expected watch: too/)
})
