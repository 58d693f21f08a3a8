// Rolling restarts of a running stack behind real nginx, under a steady 200 req/s: one instance at a time, drained
// first, so no request fails; a lone instance serves again the moment the command returns; unknown names restart nothing.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { Load } from '../load.ts'
import {
  fixtureServer,
  freePorts,
  httpGet,
  pidAlive,
  pidGone,
  startOk,
  useHome,
  waitFor,
  type RecordedState,
} from '../helpers.ts'

const home = useHome({ after }, 'bm-rolling-')
let skipReason: string | undefined
let config = ''
let proxyPort = 0
let base = 0

before(async () => {
  if ((await home.cli(['check-nginx'])).code !== 0) {
    skipReason = 'no nginx installed (make install-nginx)'
    return
  }
  base = await freePorts(6)
  proxyPort = base + 5
  config = home.writeConfig({ proxy: { type: 'nginx', host: '127.0.0.1', port: proxyPort }, servers: servers() })
  await startOk(home, config)
  await waitFor(() => fs.lstatSync(socket(), { throwIfNoEntry: false })?.isSocket(), 10_000, 'the control socket')
})

// flaky exits at once while its marker file exists: a restart whose instance never becomes ready.
const marker = () => path.join(home.root, 'flaky-broken')
const servers = (soloEnv: Record<string, string> = {}) => [
  fixtureServer('api', 'http-server.mjs', base, { instances: 2 }),
  fixtureServer('solo', 'http-server.mjs', base + 2, { modules: ['solo'], env: soloEnv }),
  {
    ...fixtureServer('flaky', 'http-server.mjs', base + 3, { instances: 2, modules: ['flaky'] }),
    command: `test -e ${marker()} && { echo flaky is broken; exit 1; }; exec node test/fixtures/http-server.mjs`,
  },
]

const socket = () => path.join(home.root, 'run', 'control.sock')
const pids = (s: RecordedState = home.state()!) => Object.fromEntries(s.processes.map((p) => [p.id, p.pid]))
const supervisorLines = () =>
  home
    .readLog('backend-unified.log')
    .split('\n')
    .filter((l) => /^supervisor {10}>> /.test(l))

function post(route: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket(), method: 'POST', path: route, timeout: 120_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer to POST ${route}`)))
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

// Where the first line matching each pattern is, each after the one before (fails naming the missing one).
function inOrder(lines: string[], patterns: RegExp[]): void {
  let from = 0
  for (const p of patterns) {
    const i = lines.findIndex((line, n) => n >= from && p.test(line))
    assert.ok(i >= 0, `no line matching ${p} after line ${from}:\n${lines.join('\n')}`)
    from = i + 1
  }
}

// Runs `args` while a steady load goes to `urlPath` through nginx; returns the command's result and the load.
async function underLoad(args: string[], urlPath: string) {
  const load = new Load()
  load.start(`http://127.0.0.1:${proxyPort}${urlPath}`)
  try {
    await waitFor(() => load.ok >= 100, 30_000, 'the load to get going')
    const r = await home.cli(args, { timeoutMs: 180_000 })
    const okAtEnd = load.ok
    await waitFor(() => load.ok >= okAtEnd + 50, 30_000, 'requests after the restart')
    return { r, load }
  } finally {
    await load.stop()
  }
}

test('restart --only api (2 instances) under 200 req/s: one at a time, drained, no request fails', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  const { r, load } = await underLoad(['restart', config, '--only', 'api'], '/rolling')
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`)
  const after = home.state()!
  for (const id of ['api-0', 'api-1']) {
    assert.notEqual(pids(after)[id], pids(before)[id], `${id} kept its pid`)
    assert.ok(pidGone(pids(before)[id]), `the old ${id} is still alive`)
    assert.match(r.stdout, new RegExp(`${id} +pid ${pids(before)[id]} -> ${pids(after)[id]} `))
  }
  assert.match(r.stdout, /restarted api in \d+ ms/)
  // What the supervisor does is shown as it happens, then what was restarted.
  inOrder(r.stdout.split('\n'), [
    /^nginx reloaded pid \d+ \(api-0 out of rotation: restarting\)$/,
    /^api-0 spawned pid \d+ port \d+$/,
    /^api-0 ready pid \d+/,
    /^nginx reloaded pid \d+ \(api-1 out of rotation: restarting\)$/,
    /^api-1 ready pid \d+/,
    /^restarted api-0 /,
    /^restarted api-1 /,
  ])
  // The same supervisor and the same nginx (reloaded, not restarted); solo untouched.
  assert.equal(after.supervisor.pid, before.supervisor.pid)
  assert.equal(pids(after).nginx, pids(before).nginx)
  assert.equal(pids(after)['solo-0'], pids(before)['solo-0'])
  assert.ok(load.servedBy(base) > 0 && load.servedBy(base + 1) > 0, 'both instances served')
  const old = (id: string) => pids(before)[id]
  const now = (id: string) => pids(after)[id]
  inOrder(
    supervisorLines(),
    ['api-0', 'api-1'].flatMap((id) => [
      new RegExp(`>> nginx reloaded pid \\d+ \\(${id} out of rotation: restarting\\)$`),
      new RegExp(`>> ${id} pid ${old(id)} (exited|killed)`),
      new RegExp(`>> ${id} spawned pid ${now(id)} port \\d+$`),
      new RegExp(`>> ${id} ready pid ${now(id)} port \\d+ in \\d+ ms`),
      new RegExp(`>> nginx reloaded pid \\d+ \\(${id} back in rotation: ready again\\)$`),
    ]),
  )
})

test('restart --only solo (1 instance): stopped and started at once, served through nginx when it returns', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  const r = await home.cli(['restart', config, '--only', 'solo'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const reply = await httpGet(`http://127.0.0.1:${proxyPort}/api/v1/solo/x`)
  assert.equal(reply.status, 200, reply.body)
  const after = home.state()!
  assert.equal(reply.json().pid, pids(after)['solo-0'])
  assert.notEqual(pids(after)['solo-0'], pids(before)['solo-0'])
  assert.equal(after.supervisor.pid, before.supervisor.pid, 'the supervisor was replaced')
  assert.equal(pids(after).nginx, pids(before).nginx)
  // Nothing to drain it behind: no reload for it.
  assert.ok(!supervisorLines().some((l) => /solo-0 out of rotation/.test(l)))
})

test('restart --only api-1: just that instance, in place; the other keeps its pid', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  const r = await home.cli(['restart', config, '--only', 'api-1'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /^restarted api-1 +pid \d+ -> \d+/m)
  assert.doesNotMatch(r.stdout, /^restarted api-0 /m)
  const after = home.state()!
  assert.notEqual(pids(after)['api-1'], pids(before)['api-1'])
  assert.equal(pids(after)['api-0'], pids(before)['api-0'])
  assert.equal(after.supervisor.pid, before.supervisor.pid, 'restarted in place by the same supervisor')
})

test('an unknown name is refused (exit 2, or 400 on the socket) and nothing is restarted', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  const r = await home.cli(['restart', config, '--only', 'api,nosuch'])
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /nosuch/)
  const refused = await post('/v1/restart', { targets: ['api', 'nosuch'] })
  assert.equal(refused.status, 400, JSON.stringify(refused.body))
  assert.equal(refused.body.error.code, 'USAGE')
  assert.match(refused.body.error.message, /"nosuch".*servers: api, solo, flaky/)
  const notList = await post('/v1/restart', { targets: 'api' })
  assert.equal(notList.status, 400, JSON.stringify(notList.body))
  assert.deepEqual(pids(), pids(before))
  assert.equal(home.state()!.supervisor.pid, before.supervisor.pid)
})

test('POST /v1/restart with an instance id restarts just that instance and answers old and new pids', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  const answer = await post('/v1/restart', { targets: ['api-1'] })
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
  const after = home.state()!
  assert.deepEqual(
    answer.body.restarted.map((x: any) => [x.id, x.oldPid, x.newPid, x.drained]),
    [['api-1', pids(before)['api-1'], pids(after)['api-1'], true]],
  )
  assert.notEqual(pids(after)['api-1'], pids(before)['api-1'])
  assert.equal(pids(after)['api-0'], pids(before)['api-0'])
  assert.ok(pidAlive(pids(after)['api-1']))
})

test('an instance that does not come back ends the restart (exit 1), out of rotation: still no request fails', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  fs.writeFileSync(marker(), '')
  const { r, load } = await underLoad(['restart', config, '--only', 'flaky'], '/api/v1/flaky/x')
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(r.stderr, /flaky-0[\s\S]*flaky is broken/)
  assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`)
  assert.equal(pids()['flaky-1'], pids(before)['flaky-1'], 'flaky-1 was restarted after flaky-0 failed')
  assert.ok(load.servedBy(base + 4) > 0)
  // Fixed: the next restart brings it back into rotation.
  fs.rmSync(marker())
  const again = await home.cli(['restart', config, '--only', 'flaky'], { timeoutMs: 180_000 })
  assert.equal(again.code, 0, again.stdout + again.stderr)
  const ports = new Set<number>()
  for (let i = 0; i < 8; i++) ports.add((await httpGet(`http://127.0.0.1:${proxyPort}/api/v1/flaky/${i}`)).json().port)
  assert.deepEqual([...ports].sort(), [base + 3, base + 4])
})

test('restart (the whole stack, same config) under 200 req/s: rolling, no request fails, nginx reloaded', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  const { r, load } = await underLoad(['restart'], '/whole')
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`)
  const after = home.state()!
  for (const id of ['api-0', 'api-1', 'solo-0', 'flaky-0', 'flaky-1']) {
    assert.notEqual(pids(after)[id], pids(before)[id], `${id} kept its pid`)
    assert.ok(pidGone(pids(before)[id]), `the old ${id} is still alive`)
  }
  assert.equal(pids(after).nginx, pids(before).nginx, 'nginx was restarted, not reloaded')
  assert.equal(after.supervisor.pid, before.supervisor.pid)
  assert.match(r.stdout, /restarted 5 processes in \d+ ms/)
  assert.equal((await home.statusUntilHealthy()).code, 0)
})

test('restart after the config changed: stop, then start (a new supervisor and a new nginx)', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  home.writeConfig({ proxy: { type: 'nginx', host: '127.0.0.1', port: proxyPort }, servers: servers({ CHANGED: '1' }) })
  const r = await home.cli(['restart'], { timeoutMs: 180_000 })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /stopped 6 processes in \d+ ms/)
  const after = home.state()!
  assert.notEqual(after.supervisor.pid, before.supervisor.pid)
  assert.notEqual(pids(after).nginx, pids(before).nginx)
  assert.equal((await httpGet(`http://127.0.0.1:${proxyPort}/api/v1/solo/x`)).status, 200)
})

test('restart in place: what a server depends on is back before the server goes down', async (t) => {
  const own = useHome(t, 'bm-rolling-deps-')
  const at = await freePorts(3)
  const deps = own.writeConfig({
    servers: [
      fixtureServer('cache', 'http-server.mjs', at),
      fixtureServer('api', 'http-server.mjs', at + 1, { depends_on: ['cache'] }),
      fixtureServer('jobs', 'http-server.mjs', at + 2, { depends_on: ['cache'] }),
    ],
  })
  await startOk(own, deps)
  await waitFor(
    () => fs.lstatSync(path.join(own.root, 'run', 'control.sock'), { throwIfNoEntry: false })?.isSocket(),
    10_000,
    'the control socket',
  )
  const before = own.state()!
  const r = await own.cli(['restart'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(own.state()!.supervisor.pid, before.supervisor.pid)
  const lines = r.stdout.split('\n')
  const first = (re: RegExp) => lines.findIndex((l) => re.test(l))
  // api and jobs go down only once cache is back.
  assert.ok(first(/^cache-0 ready /) >= 0, r.stdout)
  assert.ok(first(/^cache-0 ready /) < first(/^api-0 pid \d+ exited/), r.stdout)
  assert.ok(first(/^cache-0 ready /) < first(/^jobs-0 pid \d+ exited/), r.stdout)
  assert.match(r.stdout, /restarted 3 processes in \d+ ms\n$/)
})
