// Real nginx, rendered from a real plan, in front of real demo servers on free ports.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { parseConfig } from '../../lib/config/load.ts'
import { packageRoot, resolveHome } from '../../lib/core/home.ts'
import { nginxArgs, prepareNginxDirs, renderNginxConf } from '../../lib/proxy/nginx/render.ts'
import { findNginx, mimeTypesFor } from '../../lib/proxy/nginx/install.ts'
import { canBind } from '../../lib/os/ports.ts'
import { resolvePlan } from '../../lib/config/plan.ts'

interface Started {
  name: string
  child: ChildProcess
  output: string[]
}

const started: Started[] = []
const reserved = new Set<number>()
let tempRoot = ''
let proxyPort = 0
let skipReason: string | undefined

// The OS picks a free port; the block after it must be free too and not handed out already.
async function freeBlock(size: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await new Promise<number>((resolve, reject) => {
      const server = net.createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
    const block = Array.from({ length: size }, (_, i) => first + i)
    if (block.some((p) => p > 65535 || reserved.has(p))) continue
    if ((await Promise.all(block.map((p) => canBind(p)))).every(Boolean)) {
      block.forEach((p) => reserved.add(p))
      return first
    }
  }
  throw new Error(`no block of ${size} free consecutive ports found`)
}

// Each child leads its own process group, so cleanup can signal it and everything it started.
function spawnGroup(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(command, args, { cwd: packageRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const entry = { name, child, output: [] as string[] }
  child.stdout!.on('data', (d: Buffer) => entry.output.push(d.toString()))
  child.stderr!.on('data', (d: Buffer) => entry.output.push(d.toString()))
  started.push(entry)
  return entry
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

async function waitForPort(port: number, who: Started): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (exited(who.child)) throw new Error(`${who.name} exited before listening on ${port}:\n${who.output.join('')}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(() => resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${who.name} did not listen on ${port} within 20 s:\n${who.output.join('')}`)
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

async function stopGroup(entry: Started): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-entry.child.pid!, sig)
    } catch {
      // The group is already gone.
    }
  }
  signal('SIGTERM')
  if (!(await waitExit(entry.child, 2000))) signal('SIGKILL')
  await waitExit(entry.child, 2000)
}

interface Reply {
  status: number
  body: string
  json?: { server: string; instance: number; port: number; path: string; connection: number }
}

// A fresh client connection per request: only the nginx -> upstream side may reuse connections.
function get(urlPath: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: proxyPort, path: urlPath, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => {
          let json
          try {
            json = JSON.parse(body)
          } catch {
            json = undefined
          }
          resolve({ status: res.statusCode ?? 0, body, json })
        })
      })
      .on('error', reject)
  })
}

before(async () => {
  const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
  if (!nginx) {
    skipReason = 'no nginx installed (make install-nginx)'
    return
  }
  tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-nginx-e2e-'))
  const [core, broker, datafeed] = [await freeBlock(1), await freeBlock(1), await freeBlock(2)]
  proxyPort = await freeBlock(1)
  const yaml = `proxy: { host: 127.0.0.1, port: ${proxyPort}, api_prefix: /api/v1 }
servers:
  - { name: core, command: node --import tsx examples/server.ts, port: ${core}, health: /health }
  - { name: broker, command: node --import tsx examples/server.ts, port: ${broker}, modules: [broker], health: /health }
  - { name: datafeed, command: node --import tsx examples/server.ts, port: ${datafeed}, instances: 2, modules: [datafeed], health: /health }
`
  const plan = resolvePlan(parseConfig(yaml, path.join(packageRoot, 'e2e-config.yaml')))
  const servers = plan.processes.map((p) => ({
    port: p.port!,
    entry: spawnGroup(p.id, process.execPath, ['--import', 'tsx', 'examples/server.ts'], { ...process.env, ...p.env }),
  }))
  const home = resolveHome({ BACKEND_MANAGER_HOME: tempRoot }, packageRoot)
  prepareNginxDirs(home)
  fs.writeFileSync(home.nginxConf, renderNginxConf(plan, home, { mimeTypes: mimeTypesFor(nginx.path) }))
  const proxy = spawnGroup('nginx', nginx.path, nginxArgs(home, { version: nginx.version }), process.env)
  await Promise.all([...servers.map((s) => waitForPort(s.port, s.entry)), waitForPort(proxyPort, proxy)])
})

after(async () => {
  await Promise.all(started.map(stopGroup))
  if (tempRoot) fs.rmSync(tempRoot, { recursive: true, force: true })
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
    const reply = await get(urlPath)
    assert.equal(reply.status, 200, `${urlPath}: ${reply.body}`)
    assert.equal(reply.json?.server, server, urlPath)
    assert.equal(reply.json?.path, urlPath.split('?')[0], 'the path reaches the backend unchanged')
  }
})

test('consecutive requests to a two-instance server alternate between instances', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const instances: number[] = []
  for (let i = 0; i < 6; i++) instances.push((await get('/api/v1/datafeed/tick')).json!.instance)
  assert.deepEqual(new Set(instances), new Set([0, 1]))
  for (let i = 1; i < instances.length; i++)
    assert.notEqual(instances[i], instances[i - 1], `round-robin: ${instances.join(',')}`)
})

test('upstream connections are reused (keepalive)', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const byInstance = new Map<string, number[]>()
  for (let i = 0; i < 8; i++) {
    for (const urlPath of ['/api/v1/broker/k', '/api/v1/datafeed/k']) {
      const { json } = await get(urlPath)
      const key = `${json!.server}-${json!.instance}`
      byInstance.set(key, [...(byInstance.get(key) ?? []), json!.connection])
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
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: proxyPort, path: '/api/v1/broker', method, agent: false },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (body += chunk))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body, json: res.statusCode === 200 ? JSON.parse(body) : undefined }),
          )
        },
      )
      req.on('error', reject)
      req.end(method === 'POST' ? '{"order":1}' : undefined)
    })
    assert.equal(reply.status, 200, `${method} /api/v1/broker: ${reply.body}`)
    assert.equal(reply.json?.server, 'broker')
    assert.equal(reply.json?.path, '/api/v1/broker')
  }
})

test('the access log is one JSON object per request', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const file = path.join(tempRoot, 'logs', 'nginx-access.log')
  // Lines are buffered and flushed within a second; wait for them rather than assume.
  const deadline = Date.now() + 10_000
  let lines: string[] = []
  while (Date.now() < deadline) {
    lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
    if (lines.length > 0) break
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.ok(lines.length > 0, 'no access log lines were written')
  for (const line of lines) {
    const entry = JSON.parse(line) as { status: number; uri: string; upstream: string }
    assert.equal(typeof entry.status, 'number')
    assert.ok(entry.uri.startsWith('/'))
  }
})

test('a dead instance is skipped: requests keep succeeding on the other one', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const victim = started.find((s) => s.name === 'datafeed-1')!
  await stopGroup(victim)
  for (let i = 0; i < 4; i++) {
    const reply = await get('/api/v1/datafeed/after-failure')
    assert.equal(reply.status, 200, reply.body)
    assert.equal(reply.json?.instance, 0)
  }
})
