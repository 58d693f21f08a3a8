// export compose: the project as text (a golden file; UPDATE_GOLDEN=1 rewrites it), the same project accepted by
// docker-compose itself (`docker-compose config`, which needs no daemon), values that would break YAML or compose's
// own $-interpolation coming back intact, and the command end to end.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { YAML } from 'zx'
import { packageRoot } from '../../lib/core/home.ts'
import { loadConfig, parseConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { readEnvFiles, renderCompose } from '../../lib/export/compose.ts'
import { runCli, useHome } from '../helpers.ts'

const GREETING = 'say: "hi" # it\'s $HOME, 100%'
const CONFIG = `proxy: { type: nginx, port: 8000 }
servers:
  - name: migrate
    kind: task
    command: ./migrate --to latest
    image: registry.example.com/shop/migrate:1.4
  - name: api
    command: "uvicorn main:app --host $HOST --port {port} # shard {instance}"
    port: 8001
    instances: 2
    depends_on: [migrate]
    env_file: .env
    env: { SHARED: from-config, GREETING: ${JSON.stringify(GREETING)} }
    health: { check: /health, interval: 10, timeout: 3, retries: 4, start_period: 20 }
    max_memory: 512M
    restart: always
  - name: orders
    command: [python, -m, orders, --port, "{port}", "--tag=#1"]
    port: 8010
    modules: [orders]
    health: tcp
    depends_on: [api]
    stop_timeout: 7.5
  - name: worker
    command: python worker.py
    instances: 3
    restart: "no"
    depends_on: [migrate]
    health: { check: [python, -c, "import sys; sys.exit(0)"] }
  - name: cache
    command: redis-server --port {port}
    image: redis:7
    port: 6390
    behind_proxy: false
`
const golden = path.join(packageRoot, 'test', 'golden', 'compose.yaml')

// The config in a folder of its own with its .env, the project written into deploy/ beside it.
function project(t: { after(fn: () => void): void }): { config: string; dir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-compose-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  fs.writeFileSync(path.join(root, '.env'), 'SECRET="from the file"\nSHARED=from-file\n')
  fs.writeFileSync(path.join(root, 'shop.yaml'), CONFIG)
  return { config: path.join(root, 'shop.yaml'), dir: path.join(root, 'deploy') }
}

function render(config: string, dir: string): Record<string, string> {
  const plan = resolvePlan(loadConfig(config, { env: {} }))
  return renderCompose(plan, { dir }, readEnvFiles(plan))
}

function write(dir: string, files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.writeFileSync(path.join(dir, f), text)
  }
}

test('golden: export compose writes a service per instance, replicas for a worker, nginx in front', (t) => {
  const { config, dir } = project(t)
  const files = render(config, dir)
  assert.deepEqual(Object.keys(files).sort(), ['compose.yaml', 'nginx/nginx.conf'])
  if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(golden, files['compose.yaml'])
  assert.equal(files['compose.yaml'], fs.readFileSync(golden, 'utf8'), `${golden} differs; UPDATE_GOLDEN=1 if intended`)
  const nginx = files['nginx/nginx.conf']
  assert.match(nginx, /server api-0:8001 max_fails=0;\n\s*server api-1:8002 max_fails=0;/, 'upstreams by service name')
  assert.match(nginx, /listen 0\.0\.0\.0:8000;/, 'listening on every address of its container')
  assert.doesNotMatch(nginx, /127\.0\.0\.1|\nuser /, 'no loopback upstream, no user directive (the image has one)')
})

test('values that are YAML or compose syntax come back as the config has them', (t) => {
  const { config, dir } = project(t)
  const doc = YAML.parse(render(config, dir)['compose.yaml'])
  // Compose reads $$ as one literal $.
  const literal = (v: unknown) => JSON.parse(JSON.stringify(v).replace(/\$\$/g, '$'))
  const api = literal(doc.services['api-1'])
  assert.equal(api.environment.GREETING, GREETING)
  assert.deepEqual(api.command, ['/bin/sh', '-c', 'uvicorn main:app --host $HOST --port 8002 # shard 1'])
  assert.equal(api.environment.SHARED, 'from-config', 'env wins over env_file, so it is written')
  assert.equal(api.environment.SECRET, undefined, 'what only the env_file holds is read from it by compose')
  assert.deepEqual(literal(doc.services.orders.command), ['python', '-m', 'orders', '--port', '8010', '--tag=#1'])
})

const compose = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' })
test('docker-compose config accepts the project and reads the values back intact', (t) => {
  if (compose.status !== 0)
    return t.skip(`docker-compose not found (${compose.error?.message}); make system-deps installs it (Debian)`)
  const { config, dir } = project(t)
  write(dir, render(config, dir))
  // No daemon is needed to check a project; a variable of the same name must not leak into it.
  const env = { PATH: process.env.PATH, HOME: os.tmpdir(), HOST: 'leaked', DOCKER_HOST: 'unix:///nonexistent' }
  const r = spawnSync('docker-compose', ['-f', path.join(dir, 'compose.yaml'), 'config'], { encoding: 'utf8', env })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stderr.trim(), '', 'no warning')
  const seen = YAML.parse(r.stdout)
  assert.deepEqual(Object.keys(seen.services).sort(), [
    'api-0',
    'api-1',
    'cache',
    'migrate',
    'nginx',
    'orders',
    'worker',
  ])
  const api = seen.services['api-0']
  assert.equal(api.environment.GREETING.replace(/\$\$/g, '$'), GREETING)
  assert.equal(api.environment.SECRET, 'from the file', 'the env_file read by compose')
  assert.equal(api.command[2].replace(/\$\$/g, '$'), 'uvicorn main:app --host $HOST --port 8001 # shard 0')
  assert.equal(api.depends_on.migrate.condition, 'service_completed_successfully')
  assert.equal(seen.services.worker.deploy.replicas, 3)
})

test('export compose -o DIR writes the project; an unknown target or no -o is a usage error', async (t) => {
  const home = useHome(t)
  const { config, dir } = project(t)
  const ok = await runCli(home.root, ['export', 'compose', config, '-o', dir])
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, new RegExp(`start: docker compose -p bm-compose-\\w+ -f ${dir}/compose\\.yaml up`))
  assert.ok(fs.readFileSync(path.join(dir, 'compose.yaml'), 'utf8').includes('  api-1:\n'))
  assert.ok(fs.readFileSync(path.join(dir, 'nginx', 'nginx.conf'), 'utf8').includes('server orders:8010'))
  const bad = await runCli(home.root, ['export', 'composer', config, '-o', dir])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /"composer": unknown target, expected one of .*compose/)
  const noDir = await runCli(home.root, ['export', 'compose', config])
  assert.equal(noDir.code, 2)
  assert.match(noDir.stderr, /export compose needs -o DIR/)
})

test('a worker that reads its INSTANCE gets a service per instance; a service name taken twice is refused', () => {
  const plan = (servers: string) =>
    resolvePlan(
      parseConfig(`proxy: { port: 8000 }\nservers:\n${servers}`, path.join(os.tmpdir(), 'shop.yaml'), { env: {} }),
    )
  const web = '  - { name: web, command: node web.js, port: 8001 }\n'
  const sharded = renderCompose(plan(`${web}  - { name: worker, command: "w --shard {instance}", instances: 2 }\n`), {
    dir: path.join(os.tmpdir(), 'deploy'),
  })
  const services = Object.keys(YAML.parse(sharded['compose.yaml']).services)
  assert.deepEqual(services, ['web', 'worker-0', 'worker-1', 'nginx'])
  const clash =
    `${web}  - { name: api, command: a, port: 8010, instances: 2, modules: [a] }\n` +
    '  - { name: api-1, command: b, port: 8020, modules: [b] }\n'
  assert.throws(
    () => renderCompose(plan(clash), { dir: path.join(os.tmpdir(), 'deploy') }),
    /two services would be named "api-1".*rename a server in .*shop\.yaml/,
  )
})
