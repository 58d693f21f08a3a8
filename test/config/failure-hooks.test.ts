// on_failure and after_stop in the config: defaults, bad values, and what the plan keeps of them.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { formatPlan, planJson } from '../../lib/cli/plan-format.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-hooks-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

const file = path.join(dir, 'stack.yaml')
const servers = 'servers:\n  - { name: api, command: run, port: 9100 }\n'

function plan(top: string) {
  fs.writeFileSync(file, `${top}${servers}`)
  return resolvePlan(loadConfig(file))
}

function problems(top: string): string {
  try {
    plan(top)
  } catch (error) {
    assert.ok(error instanceof BackendManagerError)
    assert.equal(error.code, 'CONFIG')
    return error.message
  }
  assert.fail('expected the config to be rejected')
}

test('by default a failure keeps the rest running and nothing runs after a stop', () => {
  const p = plan('')
  assert.equal(p.onFailure, undefined)
  assert.equal(p.afterStop, undefined)
  fs.writeFileSync(file, servers)
  const config = loadConfig(file)
  assert.equal(config.on_failure, 'keep-running')
  assert.deepEqual(config.after_stop, [])
})

test('on_failure: stop-all and after_stop reach the plan, after_stop with the config folder to run in', () => {
  const p = plan('on_failure: stop-all\nafter_stop: ["./report.sh", "make archive"]\n')
  assert.equal(p.onFailure, 'stop-all')
  assert.deepEqual(p.afterStop, { commands: ['./report.sh', 'make archive'], cwd: dir })
  assert.equal(planJson(p).on_failure, 'stop-all')
  assert.deepEqual(planJson(p).after_stop, ['./report.sh', 'make archive'])
  assert.match(formatPlan(p), /^On failure: stop-all /m)
  assert.match(formatPlan(p), new RegExp(`^After stop: \\./report\\.sh ; make archive \\(in ${dir}\\)$`, 'm'))
  assert.doesNotMatch(formatPlan(plan('')), /On failure|After stop/)
})

test('bad values name the key, the value and what was expected', () => {
  assert.match(
    problems('on_failure: stop_all\n'),
    /stack\.yaml: on_failure: "stop_all" is not a valid choice \(did you mean "stop-all"\?\), expected one of keep-running, stop-all/,
  )
  assert.match(
    problems('after_stop: ./report.sh\n'),
    /after_stop: "\.\/report\.sh" is not a list, expected a list of shell commands/,
  )
  assert.match(
    problems('after_stop: ["ok", "", 3]\n'),
    /after_stop\[1\]: "" is not a command, expected a non-empty string/,
  )
  assert.match(problems('after_stop: ["ok", "", 3]\n'), /after_stop\[2\]: 3 is not a command/)
})
