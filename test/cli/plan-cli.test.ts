import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { repoRoot as repo } from '../helpers.ts'

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-plan-home-'))
const configs = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-plan-cli-'))
after(() => {
  fs.rmSync(home, { recursive: true, force: true })
  fs.rmSync(configs, { recursive: true, force: true })
})

interface Result {
  code: number
  stdout: string
  stderr: string
}

// The real entry point, as a user runs it; a non-zero exit is a result here, not a failure.
function cli(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const env = { ...process.env, BACKEND_MANAGER_HOME: home }
    execFile(process.execPath, ['bin/backend-manager.js', ...args], { cwd: repo, env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

// A frozen copy of the bundled config, so the expected output does not follow edits to the user's dev-config.yaml.
const DEV = 'test/fixtures/configs/dev-config.yaml'
const devDir = path.join(repo, 'test', 'fixtures', 'configs')

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// Splits the text output into its titled sections, each a list of table rows without the header.
function section(text: string, title: string): string[] {
  const lines = text.split('\n')
  const start = lines.indexOf(title)
  assert.notEqual(start, -1, `no "${title}" section in:\n${text}`)
  const end = lines.indexOf('', start)
  return lines.slice(start + 2, end === -1 ? undefined : end)
}

test('plan on the demo config lists 4 processes and 5 routes', async () => {
  const r = await cli('plan', DEV)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  const processes = section(r.stdout, 'Processes (start order):').map((row) => row.split(/\s+/).slice(0, 3))
  assert.deepEqual(processes, [
    ['core-0', '8004', 'http'],
    ['broker-0', '8001', 'http'],
    ['datafeed-0', '8002', 'http'],
    ['datafeed-1', '8003', 'http'],
  ])
  const routes = section(r.stdout, 'Routes:').map((row) => row.split(/\s+/))
  assert.deepEqual(routes, [
    ['/api/v1/broker/ws', 'websocket', 'broker', '8001'],
    ['/api/v1/broker/', 'http', 'broker', '8001'],
    ['/api/v1/datafeed/ws', 'websocket', 'datafeed', '8002,8003'],
    ['/api/v1/datafeed/', 'http', 'datafeed', '8002,8003'],
    ['/', 'http', 'core', '8004'],
  ])
  assert.match(r.stdout, /^Proxy: nginx on 127\.0\.0\.1:8000$/m)
})

test('plan with no CONFIG reads dev-config.yaml', async () => {
  const [implicit, explicit] = await Promise.all([cli('plan'), cli('plan', 'dev-config.yaml')])
  assert.equal(implicit.code, 0, implicit.stderr)
  assert.equal(implicit.stdout, explicit.stdout)
})

test('plan --json gives processes, proxy and routes as data', async () => {
  const r = await cli('plan', DEV, '--json')
  assert.equal(r.code, 0, r.stderr)
  const plan = JSON.parse(r.stdout)
  assert.deepEqual(Object.keys(plan), ['config', 'layout', 'proxy', 'processes', 'routes'])
  assert.equal(plan.config, DEV)
  assert.deepEqual(plan.proxy, { type: 'nginx', listen: '127.0.0.1:8000' })
  assert.deepEqual(
    plan.processes.map((p: { id: string; port: number; readiness: string; cwd: string }) => [
      p.id,
      p.port,
      p.readiness,
      p.cwd,
    ]),
    [
      ['core-0', 8004, 'http /health', devDir],
      ['broker-0', 8001, 'http /health', devDir],
      ['datafeed-0', 8002, 'http /health', devDir],
      ['datafeed-1', 8003, 'http /health', devDir],
    ],
  )
  const broker = plan.processes[1]
  assert.equal(broker.command, 'node --import tsx examples/server.ts')
  assert.deepEqual(broker.env, {
    LOG_LEVEL: 'debug',
    HOST: '127.0.0.1',
    SERVER_NAME: 'broker',
    INSTANCE: '0',
    ENABLED_MODULES: 'broker',
    API_PREFIX: '/api/v1',
    PORT: '8001',
    PYTHONUNBUFFERED: '1',
  })
  assert.deepEqual(plan.routes[2], {
    path: '/api/v1/datafeed/ws',
    websocket: true,
    upstream: 'datafeed',
    ports: [8002, 8003],
  })
  assert.equal(plan.routes.length, 5)
})

test('plan --only picks a server', async () => {
  const r = await cli('plan', DEV, '--json', '--only', 'datafeed')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(
    JSON.parse(r.stdout).processes.map((p: { id: string }) => p.id),
    ['datafeed-0', 'datafeed-1'],
  )
})

const failures: { name: string; args: () => string[]; stderr: (file: string) => RegExp }[] = [
  {
    name: 'a config with overlapping ports',
    args: () => {
      const file = path.join(configs, 'overlap.yaml')
      fs.writeFileSync(
        file,
        'servers:\n  - { name: a, command: x, port: 9000, instances: 2 }\n  - { name: b, command: x, port: 9001, modules: [b] }\n',
      )
      return ['plan', file]
    },
    stderr: (file) =>
      new RegExp(`^Error: ${escape(file)}: servers\\[1\\]\\.port: port 9001 of "b" overlaps 9001 of "a"\\n$`),
  },
  {
    name: 'a config with an unknown key',
    args: () => {
      const file = path.join(configs, 'typo.yaml')
      fs.writeFileSync(file, 'servers:\n  - { name: a, command: x, prot: 9000 }\n')
      return ['plan', file]
    },
    stderr: (file) =>
      new RegExp(`^Error: ${escape(file)}: servers\\[0\\]\\.prot: unknown key \\(did you mean "port"\\?\\)`),
  },
  {
    name: 'a missing config file',
    args: () => ['plan', 'no-such.yaml'],
    stderr: () => /^Error: no-such\.yaml: cannot read the config file \(no such file\)/,
  },
  { name: 'an unknown flag', args: () => ['plan', '--bogus'], stderr: () => /^Error: plan: unknown flag '--bogus'/ },
  {
    name: 'an unknown --only server',
    args: () => ['plan', DEV, '--only', 'nope'],
    stderr: () =>
      new RegExp(
        `^Error: --only: unknown server "nope", expected one of the servers in ${escape(DEV)}: core, broker, datafeed\\n\\n` +
          'Usage: backend-manager plan \\[CONFIG\\]',
      ),
  },
  {
    name: 'two configs',
    args: () => ['plan', 'a.yaml', 'b.yaml'],
    stderr: () => /^Error: plan: unexpected argument "b\.yaml"/,
  },
]

for (const c of failures) {
  test(`plan exits 2 on ${c.name}`, async () => {
    const args = c.args()
    const r = await cli(...args)
    assert.equal(r.code, 2)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, c.stderr(args[1]))
  })
}

// Runs last: every command above only read, so the state folder must still be empty.
test('planning writes nothing to BACKEND_MANAGER_HOME', () => {
  assert.deepEqual(fs.readdirSync(home), [])
})
