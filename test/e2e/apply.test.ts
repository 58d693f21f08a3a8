// apply, end to end: a running stack behind real nginx brought to a new config (a server added with its route, one
// removed, one's env changed) under a steady load, while what did not change keeps its pids and fails no request.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { Load } from '../load.ts'
import {
  environValue,
  fixtureServer,
  freePorts,
  httpGet,
  listening,
  pidGone,
  startOk,
  useHome,
  waitFor,
  type ConfigYaml,
  type TestHome,
} from '../helpers.ts'

const socketOf = (home: TestHome) => path.join(home.root, 'run', 'control.sock')
const nginxConf = (home: TestHome) => fs.readFileSync(path.join(home.root, 'run', 'nginx.conf'), 'utf8')

// id -> pid of every running process (servers and nginx).
function pids(home: TestHome): Record<string, number> {
  return Object.fromEntries(home.state()!.processes.map((p) => [p.id, p.pid]))
}

// The stack before (keep, api with FLAVOR=plain, old) and after (api with FLAVOR=spicy, extra added, old removed).
function configs(base: number): { before: ConfigYaml; after: ConfigYaml } {
  const proxy = { host: '127.0.0.1', port: base + 9 }
  const keep = fixtureServer('keep', 'http-server.mjs', base, { instances: 2 })
  const api = (flavor: string) =>
    fixtureServer('api', 'http-server.mjs', base + 2, { instances: 2, modules: ['api'], env: { FLAVOR: flavor } })
  return {
    before: {
      proxy,
      servers: [keep, api('plain'), fixtureServer('old', 'http-server.mjs', base + 4, { modules: ['old'] })],
    },
    after: {
      proxy,
      servers: [keep, api('spicy'), fixtureServer('extra', 'http-server.mjs', base + 5, { modules: ['extra'] })],
    },
  }
}

// The `before` stack started, healthy, and its supervisor serving the control socket; with the pids it runs.
async function startBefore(t: TestContext) {
  const home = useHome(t, 'bm-apply-')
  const base = await freePorts(10)
  const { before, after } = configs(base)
  await startOk(home, home.writeConfig(before))
  await home.statusUntilHealthy()
  await waitFor(() => fs.lstatSync(socketOf(home), { throwIfNoEntry: false })?.isSocket(), 10_000, 'the socket')
  return { home, base, after, was: pids(home) }
}

function ask(home: TestHome, route: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socketOf(home), method: 'POST', path: route, timeout: 60_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer on ${route}`)))
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

test('apply adds, removes and rolling-restarts servers while the unchanged one serves 200 req/s', async (t) => {
  const { home, base, after, was } = await startBefore(t)
  const steady = new Load()
  const changed = new Load()
  steady.start(`http://127.0.0.1:${base + 9}/steady`)
  changed.start(`http://127.0.0.1:${base + 9}/api/v1/api/x`)
  let r
  try {
    await waitFor(() => steady.ok >= 100 && changed.ok >= 100, 30_000, 'the load to get going')
    // The same file, edited: apply with no CONFIG takes the running stack's own.
    home.writeConfig(after)
    r = await home.cli(['apply'], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${home.readLog('supervisor.log')}`)
    const okAfter = steady.ok
    await waitFor(() => steady.ok >= okAfter + 50, 30_000, 'requests after the apply')
  } finally {
    await Promise.all([steady.stop(), changed.stop()])
  }
  assert.deepEqual(
    steady.failed,
    [],
    `${steady.failed.length} of ${steady.sent} requests to the unchanged server failed`,
  )
  assert.deepEqual(
    changed.failed,
    [],
    `${changed.failed.length} of ${changed.sent} requests to the changed server failed`,
  )
  assert.match(r.stdout, /^added {4}extra \(extra-0\)$/m)
  assert.match(r.stdout, /^removed {2}old$/m)
  assert.match(r.stdout, /^changed {2}api: env FLAVOR changed \(restart api-0, api-1\)$/m)
  assert.match(r.stdout, /^proxy {4}route \/api\/v1\/extra\/ -> extra added$/m)
  assert.match(r.stdout, /^applied .* in \d+ ms$/m)

  const now = pids(home)
  assert.equal(now['keep-0'], was['keep-0'], 'the unchanged server keeps its pids')
  assert.equal(now['keep-1'], was['keep-1'])
  assert.equal(now.nginx, was.nginx, 'nginx was reloaded, not restarted')
  for (const id of ['api-0', 'api-1']) {
    assert.notEqual(now[id], was[id], `${id} was restarted`)
    assert.equal(environValue(now[id], 'FLAVOR'), 'spicy', `${id} runs with the new env`)
  }
  // The new server answers through nginx on its path.
  const extra = await httpGet(`http://127.0.0.1:${base + 9}/api/v1/extra/hello`)
  assert.equal(extra.status, 200, extra.body)
  assert.equal(JSON.parse(extra.body).server, 'extra')
  // The removed one is gone, its port released, and it is no longer in the state or the status.
  await waitFor(() => pidGone(was['old-0']), 10_000, 'old-0 to exit')
  assert.equal(await listening(base + 4), false, 'the removed server released its port')
  assert.equal(now['old-0'], undefined)
  assert.equal((await httpGet(`http://127.0.0.1:${base + 9}/api/v1/old/x`)).body.includes('"server":"old"'), false)
  const status = await home.statusUntilHealthy()
  assert.equal(status.code, 0, status.stdout)
  assert.doesNotMatch(status.stdout, /old-0/)
})

test('apply --dry-run, a bad config and an identical config change nothing', async (t) => {
  const { home, after, was } = await startBefore(t)
  const conf = nginxConf(home)

  const next = home.writeConfig(after, 'next.yaml')
  const dry = await home.cli(['apply', next, '--dry-run'])
  assert.equal(dry.code, 0, dry.stderr)
  assert.match(dry.stdout, /^added {4}extra \(extra-0\)$/m)
  assert.match(dry.stdout, /^removed {2}old$/m)
  assert.match(dry.stdout, /^changed {2}api: env FLAVOR changed \(restart api-0, api-1\)$/m)
  assert.match(dry.stdout, /^dry run: nothing was changed$/m)
  assert.deepEqual(pids(home), was)
  assert.equal(nginxConf(home), conf)
  // The same through the socket: the diff as data.
  const answer = await ask(home, '/v1/apply', { configPath: next, dryRun: true })
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
  assert.deepEqual(answer.body.diff.servers.added, ['extra'])
  assert.deepEqual(answer.body.diff.instances.removed, ['old-0'])
  const wrong = await ask(home, '/v1/apply', { configPath: 'next.yaml' })
  assert.equal(wrong.status, 400)
  assert.match(wrong.body.error.message, /configPath: expected the config file's absolute path, got "next\.yaml"/)

  // Refused as start refuses it: exit 2, naming the file and the key.
  const bad = home.writeConfig(
    { ...after, servers: [{ ...after.servers[0], helth: '/health' }, ...after.servers.slice(1)] },
    'bad.yaml',
  )
  const refused = await home.cli(['apply', bad])
  assert.equal(refused.code, 2, refused.stderr)
  const planned = await home.cli(['plan', bad])
  assert.equal(planned.code, 2)
  assert.match(refused.stderr, /bad\.yaml: servers\[0\]\.helth: unknown key \(did you mean "health"\?\)/)
  assert.equal(refused.stderr, planned.stderr, 'the same message as start and plan give')
  assert.deepEqual(pids(home), was)
  assert.equal(nginxConf(home), conf)

  const same = await home.cli(['apply'])
  assert.equal(same.code, 0, same.stderr)
  assert.match(same.stdout, /^no changes/)
  assert.deepEqual(pids(home), was)
  assert.equal(nginxConf(home), conf)
})

test('apply refuses a busy port before changing anything, and a failure midway says what was done', async (t) => {
  const { home, base, after, was } = await startBefore(t)
  const conf = nginxConf(home)

  // Something else holds the added server's port: refused before anything starts or stops.
  const holder = net.createServer().listen(base + 5, '127.0.0.1')
  await once(holder, 'listening')
  const busy = await home.cli(['apply', home.writeConfig(after, 'next.yaml')])
  holder.close()
  assert.equal(busy.code, 1, busy.stderr)
  assert.match(busy.stderr, new RegExp(`port ${base + 5} is in use by pid ${process.pid}`))
  assert.match(busy.stderr, /nothing was changed/)
  assert.deepEqual(pids(home), was)
  assert.equal(nginxConf(home), conf)

  // api's new command exits at once: the added and removed servers are done, api's restart is not.
  const broken = {
    ...after,
    servers: after.servers.map((s) => (s.name === 'api' ? { ...s, command: 'node test/fixtures/exits-early.mjs' } : s)),
  }
  const failed = await home.cli(['apply', home.writeConfig(broken, 'broken.yaml')], { timeoutMs: 120_000 })
  assert.equal(failed.code, 1, failed.stderr)
  assert.match(failed.stderr, /apply failed at "restart api-0": /)
  assert.match(failed.stderr, /exits-early: cannot continue/)
  assert.match(failed.stderr, /^done: start extra-0, take the new plan and reload nginx, stop old-0$/m)
  assert.match(failed.stderr, /^not done: restart api-0, restart api-1$/m)
  const now = pids(home)
  assert.equal(now['keep-0'], was['keep-0'])
  assert.equal(now['api-1'], was['api-1'], 'what was not done is left as it was')
  assert.equal(now['old-0'], undefined)
  const reply = await httpGet(`http://127.0.0.1:${base + 9}/api/v1/api/x`)
  assert.equal(reply.status, 200, 'the instance not restarted still serves')
})
