// init's configs as text: a Procfile converted (golden file; UPDATE_GOLDEN=1 rewrites it) and the starter, both
// accepted by the config loader; a Procfile it cannot read is refused naming the line.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { packageRoot } from '../../lib/core/home.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { parseConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { parseProcfile, procfileConfig, starterConfig } from '../../lib/config/init.ts'

const PROCFILE = `# a Rails-style app
web: bundle exec puma -p $PORT -e \${RACK_ENV:-development}
worker: bundle exec sidekiq -q "default,mailers"

Admin_UI: node admin.js --port=\${PORT}
`
const configAt = path.join(packageRoot, 'test', 'golden', 'init-procfile.yaml')

test('golden: a Procfile converted: $PORT to {port}, ports from 5000 by 100, workers without a port', () => {
  const { text, guesses } = procfileConfig(parseProcfile(PROCFILE, 'Procfile'), 'Procfile')
  if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(configAt, text)
  assert.equal(text, fs.readFileSync(configAt, 'utf8'), `${configAt} differs; UPDATE_GOLDEN=1 if intended`)
  assert.equal(guesses.length, 5, guesses.join('\n'))
  const plan = resolvePlan(parseConfig(text, configAt, { env: {} }))
  assert.deepEqual(
    plan.processes.map((p) => [p.id, p.port ?? null]),
    [
      ['web-0', 5000],
      ['worker-0', null],
      ['admin_ui-0', 5200],
    ],
  )
  const web = plan.processes[0]
  assert.equal(web.command, 'bundle exec puma -p 5000 -e ${RACK_ENV:-development}', 'the shell variable kept as it was')
  assert.deepEqual(
    plan.routes.map((r) => [r.path, r.upstream]),
    [['/', 'web']],
  )
})

test('a Procfile where no process takes $PORT: no proxy', () => {
  const { text } = procfileConfig(parseProcfile('worker: ./work\nclock: ./clock\n', 'Procfile'), 'Procfile')
  const config = parseConfig(text, configAt, { env: {} })
  assert.equal(config.proxy.type, 'none')
  assert.deepEqual(
    config.servers.map((s) => s.port),
    [undefined, undefined],
  )
})

test('the starter config is a valid config that plan accepts', () => {
  const plan = resolvePlan(parseConfig(starterConfig(), path.join(packageRoot, 'init.yaml'), { env: {} }))
  assert.deepEqual(
    plan.processes.map((p) => p.id),
    ['web-0'],
  )
  assert.match(starterConfig(), /^# yaml-language-server: \$schema=/)
})

const bad: [string, string, RegExp][] = [
  ['no colon', 'web bundle exec puma\n', /Procfile:1: "web bundle exec puma" is not a process line/],
  ['no command', 'web:\n', /Procfile:1: "web:" is not a process line, expected "name: command"/],
  ['a name the config refuses', '-web: x\n', /Procfile:1: "-web" cannot be a server name/],
  ['a name twice', 'web: a\nWeb: b\n', /Procfile:2: "web" is named twice/],
  ['nothing in it', '# only a comment\n', /Procfile has no process lines/],
]
for (const [what, text, expected] of bad) {
  test(`a Procfile with ${what} is refused, naming the line`, () => {
    assert.throws(
      () => parseProcfile(text, 'Procfile'),
      (e: unknown) => e instanceof BackendManagerError && e.code === 'CONFIG' && expected.test(e.message),
    )
  })
}
