// kind: task in the config: defaults, what a task may not have, and how the plan shows it.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { formatPlan, planJson } from '../../lib/cli/plan-format.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-tasks-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

let counter = 0
function load(yaml: string) {
  const file = path.join(dir, `stack-${counter++}.yaml`)
  fs.writeFileSync(file, yaml)
  return loadConfig(file)
}

function problems(yaml: string): string {
  try {
    load(yaml)
  } catch (error) {
    assert.ok(error instanceof BackendManagerError)
    assert.equal(error.code, 'CONFIG')
    return error.message
  }
  assert.fail('expected the config to be rejected')
}

const web = '  - { name: web, command: run, port: 9100, depends_on: [migrate] }\n'

test('a task defaults to restart "no" and no health check; a server keeps kind "server"', () => {
  const config = load(`servers:\n${web}  - { name: migrate, kind: task, command: ./migrate }\n`)
  const migrate = config.servers.find((s) => s.name === 'migrate')!
  assert.equal(migrate.kind, 'task')
  assert.equal(migrate.restart, 'no')
  assert.equal(migrate.health, 'none')
  assert.equal(config.servers.find((s) => s.name === 'web')!.kind, 'server')
})

test('a task with a port, or with a restart policy other than "no", is a config error naming the key', () => {
  const message = problems(
    `servers:\n${web}  - { name: migrate, kind: task, command: x, port: 9200, restart: always }\n`,
  )
  assert.match(message, /servers\[1\]\.port: 9200: "migrate" is a task \(it runs to completion\), expected no port/)
  assert.match(message, /servers\[1\]\.restart: "always": "migrate" is a task \(it runs once\), expected "no"/)
  assert.match(
    problems('servers:\n  - { name: a, kind: job, command: x }\n'),
    /servers\[0\]\.kind: "job" is not a valid/,
  )
})

test('the plan runs a task before its dependents, keeps it out of the proxy and shows it as a task', () => {
  const plan = resolvePlan(load(`servers:\n${web}  - { name: migrate, kind: task, command: ./migrate }\n`))
  assert.deepEqual(
    plan.processes.map((p) => [p.id, p.task ?? false]),
    [
      ['migrate-0', true],
      ['web-0', false],
    ],
  )
  assert.deepEqual(
    plan.upstreams.map((u) => u.name),
    ['web'],
  )
  const json = planJson(plan).processes[0]
  assert.equal(json.readiness, 'exit 0')
  assert.equal((json as { kind?: string }).kind, 'task')
  assert.match(formatPlan(plan), /^migrate-0 \(task\) +- +exit 0 +\.\/migrate/m)
})
