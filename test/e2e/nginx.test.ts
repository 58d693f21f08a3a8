// Real nginx, rendered from a real plan, in front of real demo servers on free ports.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { parseConfig } from '../../lib/config/load.ts'
import { packageRoot, resolveHome } from '../../lib/core/home.ts'
import { nginxArgs, prepareNginxDirs, renderNginxConf } from '../../lib/proxy/nginx/render.ts'
import { findNginx, mimeTypesFor } from '../../lib/proxy/nginx/install.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import {
  freePorts,
  groupMembers,
  httpGet,
  httpRequest,
  listening,
  spawnOwned,
  useHome,
  waitFor,
  type HttpResult,
} from '../helpers.ts'

interface Owned {
  name: string
  child: ChildProcess
  log: string
}

const started: Owned[] = []
const home = useHome({ after }, 'bm-nginx-e2e-')
let proxyPort = 0
let skipReason: string | undefined

// Each child leads its own process group, which the home kills at cleanup; its output goes to a file in the home.
function spawnLogged(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv): Owned {
  const log = path.join(home.root, `${name}.out`)
  const entry = { name, child: spawnOwned(home, command, args, { env, log }), log }
  started.push(entry)
  return entry
}

const output = (who: Owned) => (fs.existsSync(who.log) ? fs.readFileSync(who.log, 'utf8') : '')

// Fails at once, with the child's output, when the child exits before it listens.
function listeningOn(port: number, who: Owned): Promise<true> {
  const up = async () => {
    if (who.child.exitCode !== null || who.child.signalCode !== null)
      throw new Error(`${who.name} exited before listening on ${port}:\n${output(who)}`)
    return listening(port)
  }
  return waitFor(up, 20_000, `${who.name} to listen on ${port}`)
}

// A fresh client connection per request (httpGet uses no agent): only the nginx -> upstream side may reuse one.
const get = (urlPath: string): Promise<HttpResult> => httpGet(`http://127.0.0.1:${proxyPort}${urlPath}`)

interface Answer {
  server: string
  instance: number
  port: number
  path: string
  connection: number
}

// The demo server's JSON answer, once the status says it is one.
function answer(reply: HttpResult, what: string): Answer {
  assert.equal(reply.status, 200, `${what}: ${reply.body}`)
  return reply.json<Answer>()
}

before(async () => {
  const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
  if (!nginx) {
    skipReason = 'no nginx installed (make install-nginx)'
    return
  }
  const base = await freePorts(5)
  const [core, broker, datafeed] = [base, base + 1, base + 2]
  proxyPort = base + 4
  const yaml = `proxy: { host: 127.0.0.1, port: ${proxyPort}, api_prefix: /api/v1 }
servers:
  - { name: core, command: node --import tsx examples/server.ts, port: ${core}, health: /health }
  - { name: broker, command: node --import tsx examples/server.ts, port: ${broker}, modules: [broker], health: /health }
  - name: datafeed
    command: node --import tsx examples/server.ts
    port: ${datafeed}
    instances: 2
    modules: [datafeed]
    health: /health
`
  const plan = resolvePlan(parseConfig(yaml, path.join(packageRoot, 'e2e-config.yaml')))
  const servers = plan.processes.map((p) => ({
    port: p.port!,
    entry: spawnLogged(p.id, process.execPath, ['--import', 'tsx', 'examples/server.ts'], p.env),
  }))
  const stack = resolveHome({ BACKEND_MANAGER_HOME: home.root }, packageRoot)
  prepareNginxDirs(stack)
  fs.writeFileSync(stack.nginxConf, renderNginxConf(plan, stack, { mimeTypes: mimeTypesFor(nginx.path) }))
  const proxy = spawnLogged('nginx', nginx.path, nginxArgs(stack, { version: nginx.version }))
  await Promise.all([...servers.map((s) => listeningOn(s.port, s.entry)), listeningOn(proxyPort, proxy)])
})

test('module paths reach the server owning the module; everything else reaches core', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const table: [string, string][] = [
    ['/api/v1/broker/x', 'broker'],
    ['/api/v1/broker/orders/42?q=1', 'broker'],
    ['/api/v1/datafeed/quotes', 'datafeed'],
    ['/', 'core'],
    ['/api/v1/other/x', 'core'],
    ['/static/app.js', 'core'],
  ]
  for (const [urlPath, server] of table) {
    const reply = answer(await get(urlPath), urlPath)
    assert.equal(reply.server, server, urlPath)
    assert.equal(reply.path, urlPath.split('?')[0], 'the path reaches the backend unchanged')
  }
})

test('consecutive requests to a two-instance server alternate between instances', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const instances: number[] = []
  for (let i = 0; i < 6; i++) instances.push(answer(await get('/api/v1/datafeed/tick'), 'tick').instance)
  assert.deepEqual(new Set(instances), new Set([0, 1]))
  for (let i = 1; i < instances.length; i++)
    assert.notEqual(instances[i], instances[i - 1], `round-robin: ${instances.join(',')}`)
})

test('upstream connections are reused (keepalive)', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const byInstance = new Map<string, number[]>()
  for (let i = 0; i < 8; i++) {
    for (const urlPath of ['/api/v1/broker/k', '/api/v1/datafeed/k']) {
      const json = answer(await get(urlPath), urlPath)
      const key = `${json.server}-${json.instance}`
      byInstance.set(key, [...(byInstance.get(key) ?? []), json.connection])
    }
  }
  assert.equal(byInstance.size, 3)
  for (const [key, connections] of byInstance) {
    assert.ok(
      new Set(connections).size < connections.length,
      `${key} saw a new connection per request: ${connections.join(',')}`,
    )
  }
})

test('WebSocket echo works through <api_prefix>/<module>/ws', async (t) => {
  if (skipReason) return t.skip(skipReason)
  for (const module of ['broker', 'datafeed']) {
    const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}/api/v1/${module}/ws`)
    t.after(() => ws.terminate())
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send(`hello ${module}`))
      ws.once('message', (data) => resolve(data.toString()))
      ws.once('error', reject)
    })
    assert.match(reply, new RegExp(`^${module}-[01]: hello ${module}$`))
    ws.close()
  }
})

async function echo(t: { after: (fn: () => void) => void }, urlPath: string): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}${urlPath}`)
  t.after(() => ws.terminate())
  const reply = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send(`hello ${urlPath}`))
    ws.once('message', (data) => resolve(data.toString()))
    ws.once('error', reject)
  })
  ws.close()
  return reply
}

test('WebSocket upgrades work on every proxied path, not only <api_prefix>/<module>/ws', async (t) => {
  if (skipReason) return t.skip(skipReason)
  assert.match(await echo(t, '/socket.io/x'), /^core-0: hello \/socket\.io\/x$/)
  assert.match(await echo(t, '/api/v1/broker/stream/x'), /^broker-0: hello \/api\/v1\/broker\/stream\/x$/)
  assert.match(await echo(t, '/api/v1/datafeed/live'), /^datafeed-[01]: hello /)
})

test('a module path without its trailing slash reaches the module, for any method', async (t) => {
  if (skipReason) return t.skip(skipReason)
  for (const method of ['GET', 'POST']) {
    const body = method === 'POST' ? '{"order":1}' : undefined
    const reply = await httpRequest(method, `http://127.0.0.1:${proxyPort}/api/v1/broker`, body)
    const json = answer(reply, `${method} /api/v1/broker`)
    assert.equal(json.server, 'broker')
    assert.equal(json.path, '/api/v1/broker')
  }
})

test('the access log is one JSON object per request', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const file = home.logFile('nginx-access.log')
  // Lines are buffered and flushed within a second; wait for them rather than assume.
  const lines = await waitFor(
    () => {
      const written = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
      return written.length > 0 && written
    },
    10_000,
    'access log lines',
  )
  for (const line of lines) {
    const entry = JSON.parse(line) as { status: number; uri: string; upstream: string }
    assert.equal(typeof entry.status, 'number')
    assert.ok(entry.uri.startsWith('/'))
  }
})

test('a dead instance is skipped: requests keep succeeding on the other one', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const victim = started.find((s) => s.name === 'datafeed-1')!.child.pid!
  process.kill(-victim, 'SIGTERM')
  await waitFor(() => groupMembers(victim).length === 0, 10_000, 'datafeed-1 to exit')
  for (let i = 0; i < 4; i++) assert.equal(answer(await get('/api/v1/datafeed/after-failure'), 'after').instance, 0)
})
