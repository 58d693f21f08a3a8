// Real nginx in front of real fixture servers: draining an instance with a graceful reload, restarting it under a
// steady load without a failed request, and a restarted server serving again as soon as it is back.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseConfig } from '../../lib/config/load.ts'
import { resolvePlan, type Plan } from '../../lib/config/plan.ts'
import { packageRoot, resolveHome, type Home } from '../../lib/core/home.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { startTimeOf } from '../../lib/os/platform.ts'
import type { GroupRecord } from '../../lib/os/process-record.ts'
import { findNginx, mimeTypesFor } from '../../lib/proxy/nginx/install.ts'
import { reloadProxy } from '../../lib/proxy/nginx/reload.ts'
import { nginxArgs, prepareNginxDirs, renderNginxConf } from '../../lib/proxy/nginx/render.ts'
import WebSocket from 'ws'
import { Load } from '../load.ts'
import { fixture, freePorts, httpGet, listening, pidAlive, pidGone, spawnOwned, useHome, waitFor } from '../helpers.ts'

const home = useHome({ after }, 'bm-nginx-reload-')
let skipReason: string | undefined
let plan: Plan
let stack: Home
let master: GroupRecord
let proxyPort = 0
const servers = new Map<string, ChildProcess>()

function startServer(id: string): ChildProcess {
  const spec = plan.processes.find((p) => p.id === id)!
  const entry = spec.server === 'chat' ? ['--import', 'tsx', 'examples/server.ts'] : [fixture('http-server.mjs')]
  const child = spawnOwned(home, process.execPath, entry, {
    env: spec.env,
    log: path.join(home.root, `${id}.out`),
  })
  servers.set(id, child)
  return child
}

async function stopServer(id: string): Promise<void> {
  const pid = servers.get(id)!.pid!
  process.kill(-pid, 'SIGTERM')
  await waitFor(() => pidGone(pid), 20_000, `${id} (pid ${pid}) to exit`)
}

const portOf = (id: string) => plan.processes.find((p) => p.id === id)!.port!
const upOn = (port: number) => waitFor(() => listening(port), 20_000, `something listening on ${port}`)

before(async () => {
  const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
  if (!nginx) {
    skipReason = 'no nginx installed (make install-nginx)'
    return
  }
  const base = await freePorts(5)
  proxyPort = base + 4
  const yaml = `proxy: { host: 127.0.0.1, port: ${proxyPort} }
servers:
  - { name: api, command: node http-server.mjs, port: ${base}, instances: 2, health: /health }
  - { name: solo, command: node http-server.mjs, port: ${base + 2}, modules: [solo], health: /health }
  - { name: chat, command: node examples/server.ts, port: ${base + 3}, modules: [chat], health: /health }
`
  plan = resolvePlan(parseConfig(yaml, path.join(packageRoot, 'e2e-config.yaml')))
  stack = resolveHome({ BACKEND_MANAGER_HOME: home.root }, packageRoot)
  for (const p of plan.processes) startServer(p.id)
  prepareNginxDirs(stack)
  fs.writeFileSync(stack.nginxConf, renderNginxConf(plan, stack, { mimeTypes: mimeTypesFor(nginx.path) }))
  const proxy = spawnOwned(home, nginx.path, nginxArgs(stack, { version: nginx.version }), {
    log: path.join(home.root, 'nginx.out'),
  })
  master = { pid: proxy.pid!, pgid: proxy.pid!, startTime: startTimeOf(proxy.pid!)! }
  await Promise.all([...plan.processes.map((p) => upOn(p.port!)), upOn(proxyPort)])
})

test('drain, restart and undrain one of two instances under 200 req/s: no request fails', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const load = new Load()
  load.start(`http://127.0.0.1:${proxyPort}/rolling`)
  try {
    await waitFor(() => load.ok >= 100, 30_000, 'the load to get going')
    const drained = await reloadProxy(stack, plan, { drained: ['api-0'], master, waitInFlight: true })
    assert.equal(drained.changed, true)
    assert.deepEqual(drained.retiring, [], 'the old workers finished their requests and exited')
    assert.match(fs.readFileSync(stack.nginxConf, 'utf8'), new RegExp(`:${portOf('api-0')} max_fails=0 down;`))
    assert.ok(load.servedBy(portOf('api-0')) > 0, 'instance 0 served before it was drained')
    // Sent after the reload returned: only new workers, which skip the drained instance, can accept them.
    const drainedAt = load.sent
    await stopServer('api-0')
    const okAtStop = load.ok
    await waitFor(() => load.ok >= okAtStop + 100, 30_000, 'requests while instance 0 is stopped')
    startServer('api-0')
    await upOn(portOf('api-0'))
    assert.equal(load.servedBy(portOf('api-0'), drainedAt), 0, 'no request reached the drained instance')
    const undrainedAt = load.sent
    const undrained = await reloadProxy(stack, plan, { drained: [], master })
    assert.ok(undrained.workers.length > 0)
    await waitFor(() => load.servedBy(portOf('api-0'), undrainedAt) > 20, 30_000, 'instance 0 back in rotation')
  } finally {
    await load.stop()
  }
  assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`)
})

// Asks a few times while the server is down, so nginx has seen it fail, and returns what it answered.
async function whileDown(urlPath: string): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push((await httpGet(`http://127.0.0.1:${proxyPort}${urlPath}`)).status)
  return statuses
}

test('a one-instance server stopped and started again serves through nginx as soon as it is back', async (t) => {
  if (skipReason) return t.skip(skipReason)
  await stopServer('solo-0')
  assert.deepEqual(await whileDown('/api/v1/solo/x'), [502, 502, 502, 502])
  startServer('solo-0')
  await upOn(portOf('solo-0'))
  const reply = await httpGet(`http://127.0.0.1:${proxyPort}/api/v1/solo/x`)
  assert.equal(reply.status, 200, reply.body)
})

test('both instances of a server stopped together serve again as soon as they are back', async (t) => {
  if (skipReason) return t.skip(skipReason)
  await Promise.all([stopServer('api-0'), stopServer('api-1')])
  assert.deepEqual(await whileDown('/both'), [502, 502, 502, 502])
  startServer('api-0')
  startServer('api-1')
  await Promise.all([upOn(portOf('api-0')), upOn(portOf('api-1'))])
  const replies = [
    await httpGet(`http://127.0.0.1:${proxyPort}/both`),
    await httpGet(`http://127.0.0.1:${proxyPort}/b`),
  ]
  assert.deepEqual(
    replies.map((r) => r.status),
    [200, 200],
    replies.map((r) => r.body).join(''),
  )
})

test('an open WebSocket does not keep an old worker past worker_shutdown_timeout', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}/api/v1/chat/ws`)
  t.after(() => ws.terminate())
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  const reply = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send('hello'))
    ws.once('message', (data) => resolve(data.toString()))
    ws.once('error', reject)
  })
  assert.equal(reply, 'chat-0: hello')
  const reload = await reloadProxy(stack, plan, { master, waitInFlight: true })
  assert.deepEqual(reload.retiring, [], 'the old worker holding the WebSocket exited')
  await closed
})

test('a process that is not the recorded nginx master is never signalled', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const sleeper = spawnOwned(home, 'sleep', ['30'])
  const other = { pid: sleeper.pid!, pgid: sleeper.pid!, startTime: startTimeOf(sleeper.pid!)! }
  const reused = { ...master, startTime: `${Number(master.startTime) - 1}` }
  for (const wrong of [other, reused])
    await assert.rejects(
      reloadProxy(stack, plan, { master: wrong }),
      (e: unknown) => e instanceof BackendManagerError && e.code === 'NGINX' && /not the recorded one/.test(e.message),
    )
  assert.ok(pidAlive(other.pid, other.startTime), 'a SIGHUP would have ended sleep')
})

test('a config nginx -t rejects is not swapped in and nginx is not reloaded', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = fs.readFileSync(stack.nginxConf, 'utf8')
  const broken: Plan = structuredClone(plan)
  broken.upstreams[0].host = 'no-such-host.invalid'
  await assert.rejects(
    reloadProxy(stack, broken, { master, drained: ['api-1'] }),
    (e: unknown) => e instanceof BackendManagerError && /nginx rejected the new config/.test(e.message),
  )
  assert.equal(fs.readFileSync(stack.nginxConf, 'utf8'), before)
  const replies = [await httpGet(`http://127.0.0.1:${proxyPort}/a`), await httpGet(`http://127.0.0.1:${proxyPort}/b`)]
  assert.deepEqual(new Set(replies.map((r) => r.json().port)), new Set([portOf('api-0'), portOf('api-1')]))
})
