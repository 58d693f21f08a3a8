import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { interpolateString } from '../../lib/config/interpolate.ts'
import { loadConfig, type LoadOptions } from '../../lib/config/load.ts'
import { resolvePlan, type Plan } from '../../lib/config/plan.ts'
import { asStarted, portOffsetOf } from '../../lib/config/port-offset.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-interpolate-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
let n = 0

// A config in a folder of its own, with the .env beside it when given.
function configFile(yaml: string, dotenv?: string): string {
  const folder = path.join(dir, `c${n++}`)
  fs.mkdirSync(folder)
  if (dotenv !== undefined) fs.writeFileSync(path.join(folder, '.env'), dotenv)
  fs.writeFileSync(path.join(folder, 'config.yaml'), yaml)
  return path.join(folder, 'config.yaml')
}

const plan = (file: string, opts: LoadOptions = {}): Plan => resolvePlan(loadConfig(file, opts))
const spec = (p: Plan, id: string) => p.processes.find((x) => x.id === id)!

function failure(fn: () => unknown, code = 'CONFIG'): string {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof BackendManagerError, String(error))
    assert.equal(error.code, code)
    assert.equal(error.exitCode, 2)
    return error.message
  }
  assert.fail('expected an error')
}

test('${VAR}, defaults and $$ in one string; any other $ is left for the shell', () => {
  const vars = { env: { A: 'a', EMPTY: '' }, dotenv: { B: 'b', A: 'not-this' }, dotenvFile: '/x/.env' }
  const problems: string[] = []
  const s = (text: string) => interpolateString(text, vars, (p) => problems.push(p))
  assert.equal(s('${A}-${B}'), 'a-b')
  assert.equal(s('${MISSING:-dflt} ${EMPTY:-was-empty} ${EMPTY-kept-empty}|'), 'dflt was-empty |')
  assert.equal(s('${MISSING-x} ${MISSING:-${B}/${NONE:-deep}}'), 'x b/deep')
  assert.equal(s('$$ $${A} $HOME $1 ${A}$'), '$ ${A} $HOME $1 a$')
  assert.deepEqual(problems, [])
  assert.equal(s('${NOPE} ${'), ' ${')
  assert.deepEqual(problems, [
    'variable NOPE is not set, expected it in the environment or in /x/.env, or a default: ${NOPE:-value}' +
      ' (write $${NOPE} for a literal ${NOPE})',
    '"${" is not a variable reference, expected ${NAME} or ${NAME:-default} (write $$ for a literal $)',
  ])
})

test('the environment wins over the .env beside the config; a whole-value reference keeps its YAML type', () => {
  const file = configFile(
    `servers:
  - name: api
    command: serve --db "\${DB_URL}" --mode \${MODE:-dev} --shell $$HOME
    port: \${API_PORT}
    instances: \${COUNT:-2}
    env: { LEVEL: "\${LEVEL}", NUMERIC: "\${API_PORT}", PLAIN: "no vars", PRICE: "\${DOLLARS}$$" }
`,
    '# the .env beside the config\nDB_URL=postgres://dotenv\nLEVEL=info\nAPI_PORT=9100\nDOLLARS=5\n',
  )
  const p = plan(file, { env: { LEVEL: 'debug', MODE: 'prod' } })
  assert.equal(spec(p, 'api-0').command, 'serve --db "postgres://dotenv" --mode prod --shell $HOME')
  assert.equal(spec(p, 'api-1').port, 9101)
  assert.equal(spec(p, 'api-0').env.LEVEL, 'debug')
  assert.equal(spec(p, 'api-0').env.NUMERIC, '9100')
  assert.equal(spec(p, 'api-0').env.PRICE, '5$')
  // Only what came from the environment is kept, for restart and apply to read the config the same way.
  assert.deepEqual(p.variables, {
    DB_URL: null,
    MODE: 'prod',
    API_PORT: null,
    COUNT: null,
    LEVEL: 'debug',
    DOLLARS: null,
  })
})

test('an unknown variable without a default fails naming the file and key, exit 2', () => {
  const file = configFile(
    'servers:\n  - name: api\n    command: run ${TOKEN}\n    env: { A: "${ALSO_MISSING}", B: "${SET:-x}" }\n',
  )
  const message = failure(() => loadConfig(file, { env: {} }))
  assert.match(message, new RegExp(`^${file}: servers\\[0\\]\\.command: variable TOKEN is not set`))
  assert.match(message, new RegExp(`\n${file}: servers\\[0\\]\\.env\\.A: variable ALSO_MISSING is not set`))
  assert.doesNotMatch(message, /SET/)
})

test('{port:NAME} and {host:NAME}: another server first port and address, in commands and env', () => {
  const file = configFile(`servers:
  - name: api
    command: serve --cache {host:cache}:{port:cache} --port {port}
    port: 9100
    instances: 2
    env: { WEB_URL: "http://{host:web}:{port:web}/", SELF: "{port:api}" }
  - name: web
    command: [web, --api, "{port:api}"]
    host: 0.0.0.0
    port: 9200
    modules: [web]
  - name: cache
    command: redis-server --port {port}
    host: ::1
    port: 9300
    behind_proxy: false
`)
  const p = plan(file)
  assert.equal(spec(p, 'api-1').command, 'serve --cache ::1:9300 --port 9101')
  assert.equal(spec(p, 'api-1').env.WEB_URL, 'http://127.0.0.1:9200/')
  assert.equal(spec(p, 'api-1').env.SELF, '9100')
  assert.deepEqual(spec(p, 'web-0').argv, ['web', '--api', '9100'])
  // They follow the port offset like every port does.
  const shifted = plan(file, { portOffset: { value: 100, from: '--port-offset' } })
  assert.equal(spec(shifted, 'api-1').command, 'serve --cache ::1:9400 --port 9201')
  assert.deepEqual(spec(shifted, 'web-0').argv, ['web', '--api', '9200'])
  assert.equal(shifted.portOffset, 100)
})

test('{port:NAME} of an unknown server or of one without a port is a config error', () => {
  const file = configFile(`servers:
  - name: api
    command: serve {port:wbe}
    port: 9100
    env: { Q: "{port:worker}", H: "{host:nobody}" }
  - name: web
    command: web
    port: 9200
    modules: [web]
  - name: worker
    command: work
`)
  const message = failure(() => loadConfig(file))
  assert.match(
    message,
    /servers\[0\]\.command: \{port:wbe\} names no server \(did you mean "web"\?\), expected one of api, web, worker/,
  )
  assert.match(
    message,
    /servers\[0\]\.env\.Q: \{port:worker\}: "worker" has no port, expected the name of a server with a port/,
  )
  assert.match(message, /servers\[0\]\.env\.H: \{host:nobody\} names no server/)
})

test('--port-offset moves the proxy, gRPC, admin and server ports; bad values name the flag', () => {
  const file = configFile(`proxy: { port: 8000 }
servers:
  - { name: api, command: run, port: 9100, instances: 2 }
  - { name: rpc, command: run, port: 9200, protocol: grpc, behind_proxy: true, modules: [] }
  - { name: worker, command: run }
`)
  const from = '--port-offset'
  const p = plan(file, { portOffset: { value: 1000, from } })
  assert.equal(p.proxy.port, 9000)
  assert.equal(p.proxy.grpc_port, 51051)
  assert.deepEqual(
    p.processes.map((x) => [x.id, x.port]),
    [
      ['api-0', 10100],
      ['api-1', 10101],
      ['rpc-0', 10200],
      ['worker-0', undefined],
    ],
  )
  assert.deepEqual(
    p.upstreams.map((u) => u.ports),
    [[10100, 10101], [10200]],
  )
  assert.equal(spec(p, 'api-1').env.PORT, '10101')
  // The highest port bound is the gRPC front port: 65535 - 50051 is the largest offset.
  assert.equal(
    failure(() => loadConfig(file, { portOffset: { value: 15485, from } }), 'USAGE'),
    `--port-offset 15485: moves proxy.grpc_port of ${file} to 65536, past 65535, expected an offset of at most 15484`,
  )
  assert.equal(plan(file, { portOffset: { value: 15484, from } }).proxy.grpc_port, 65535)

  assert.deepEqual(portOffsetOf('100', {}), { value: 100, from })
  assert.deepEqual(portOffsetOf(undefined, { BACKEND_MANAGER_PORT_OFFSET: '7' }), {
    value: 7,
    from: 'BACKEND_MANAGER_PORT_OFFSET',
  })
  assert.deepEqual(portOffsetOf('5', { BACKEND_MANAGER_PORT_OFFSET: '7' }), { value: 5, from })
  assert.equal(portOffsetOf(undefined, {}), undefined)
  for (const bad of ['abc', '1.5', '-3', '', '70000'])
    assert.match(
      failure(() => portOffsetOf(bad, {}), 'USAGE'),
      new RegExp(`^--port-offset: ${JSON.stringify(bad)} is not a whole number from 0 to 65534`),
    )
  assert.match(
    failure(() => portOffsetOf(undefined, { BACKEND_MANAGER_PORT_OFFSET: 'ten' }), 'USAGE'),
    /^BACKEND_MANAGER_PORT_OFFSET: "ten" is not a whole number/,
  )
})

test('a running stack config is read again with its start values and offset, whatever the shell has now', () => {
  const file = configFile('servers:\n  - { name: api, command: "serve ${TAG}", port: 9100 }\n')
  const started = plan(file, { env: { TAG: 'v1' }, portOffset: { value: 10, from: '--port-offset' } })
  const again = plan(file, asStarted(started, undefined, { TAG: 'v2', OTHER: 'x' }))
  // One unset at the start stays unset: its default holds.
  const defaulted = configFile('servers:\n  - { name: api, command: "serve ${LEVEL:-info}" }\n')
  const first = plan(defaulted, { env: {} })
  assert.equal(spec(plan(defaulted, asStarted(first, undefined, { LEVEL: 'debug' })), 'api-0').command, 'serve info')
  assert.equal(spec(again, 'api-0').command, 'serve v1')
  assert.equal(spec(again, 'api-0').port, 9110)
  assert.deepEqual(again, started)
  const moved = plan(file, asStarted(started, { value: 20, from: '--port-offset' }, {}))
  assert.equal(spec(moved, 'api-0').port, 9120)
})

test('a variable that would be shell syntax in a command string is refused; env and list commands take it as is', () => {
  const file = configFile(
    `servers:
  - { name: api, command: 'serve --pass "\${PASS}" --opts \${OPTS} \${MISSING:-a;b}', env: { PASS: "\${PASS}" } }
  - { name: web, command: [serve, "--pass=\${PASS}"] }
`,
    'PASS=p$ss;w`rd\n',
  )
  const env = { OPTS: '-Xmx512m --url=http://h:1/a@b%20+c,d' }
  const message = failure(() => loadConfig(file, { env }))
  assert.equal(
    message,
    `${file}: servers[0].command: \${PASS} (from ${path.dirname(file)}/.env) holds "$", which /bin/sh would read as` +
      ' shell syntax in this command, expected letters, digits, spaces and "_.,:/@%+=-" only; set it in env and' +
      ' write "$PASS" in the command or use a list command, whose arguments never pass through a shell',
  )
  fs.writeFileSync(
    file,
    `servers:
  - { name: api, command: 'serve --pass "$PASS" --opts \${OPTS} \${MISSING:-a;b}', env: { PASS: "\${PASS}" } }
  - { name: web, command: [serve, "--pass=\${PASS}"] }
`,
  )
  const p = plan(file, { env })
  assert.equal(spec(p, 'api-0').command, `serve --pass "$PASS" --opts ${env.OPTS} a;b`)
  assert.equal(spec(p, 'api-0').env.PASS, 'p$ss;w`rd')
  assert.deepEqual(spec(p, 'web-0').argv, ['serve', '--pass=p$ss;w`rd'])
})
