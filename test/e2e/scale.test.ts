// scale NAME=N on a running stack behind real nginx under a steady load: new instances on the next ports serve
// once ready, the highest ones are drained before they stop, no request fails; the count outlives the supervisor.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { resolveHome } from '../../lib/core/home.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import { Load } from '../load.ts'
import {
  fixtureServer,
  freePorts,
  httpGet,
  listening,
  pidAlive,
  pidGone,
  startOk,
  TestHome,
  useHome,
  waitFor,
  type CliResult,
} from '../helpers.ts'

const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)

const ok = (r: CliResult, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout}${r.stderr}`)
const pids = (home: TestHome, server: string) =>
  home
    .state()!
    .processes.filter((p) => p.server === server)
    .map((p) => [p.id, p.port, p.pid])

test('scale api=4 and back to 2 behind nginx under 200 req/s: no request fails, the first two keep their pids', async (t) => {
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const home = useHome(t, 'bm-scale-')
  const base = await freePorts(5)
  const front = base + 4
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: front },
    servers: [fixtureServer('api', 'http-server.mjs', base, { instances: 2 })],
  })
  await startOk(home, config)
  await home.statusUntilHealthy()
  const before = pids(home, 'api')
  const load = new Load()
  load.start(`http://127.0.0.1:${front}/scale`)
  try {
    await waitFor(() => load.ok >= 100, 30_000, 'the load to get going')
    const up = await home.cli(['scale', 'api=4'], { timeoutMs: 120_000 })
    ok(up, 'scale api=4')
    assert.match(up.stdout, new RegExp(`^scaled api from 2 to 4 on ports ${base}-${base + 3} in \\d+ ms`, 'm'))
    const upAt = load.sent
    for (let port = base; port < base + 4; port++)
      await waitFor(() => load.servedBy(port, upAt) > 5, 30_000, `port ${port} to answer through nginx`)
    const four = pids(home, 'api')
    assert.deepEqual(
      four.map(([id, port]) => [id, port]),
      [0, 1, 2, 3].map((i) => [`api-${i}`, base + i]),
    )
    assert.deepEqual(four.slice(0, 2), before, 'api-0 and api-1 were not restarted')
    const status = await home.cli(['status'])
    for (let i = 0; i < 4; i++)
      assert.match(status.stdout, new RegExp(`^api-${i}\\s+\\d+\\s+${base + i}\\s+running`, 'm'))

    const down = await home.cli(['scale', 'api=2'], { timeoutMs: 120_000 })
    ok(down, 'scale api=2')
    assert.match(down.stdout, /scaled api from 4 to 2 .*stopped api-2, api-3/)
    const downAt = load.sent
    await waitFor(() => load.servedBy(base, downAt) > 20, 30_000, 'requests after the scale down')
    assert.equal(load.servedBy(base + 2, downAt) + load.servedBy(base + 3, downAt), 0, 'nothing reached api-2, api-3')
    for (const [, , pid] of four.slice(2)) assert.ok(pidGone(pid as number), `pid ${pid} stopped`)
    assert.deepEqual(pids(home, 'api'), before)
    assert.equal(await listening(base + 2), false)
  } finally {
    await load.stop()
  }
  assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`)
  const unified = home.readLog('backend-unified.log')
  assert.match(unified, /supervisor\s.*api scaled from 2 to 4 instances/)
  assert.match(unified, /supervisor\s.*api scaled from 4 to 2 instances/)
  // Each new instance was ready before the reload that put it into nginx's upstream.
  const reload = unified.search(/nginx reloaded pid \d+ \(scaled api 2 -> 4\)/)
  assert.ok(reload > 0, 'the reload that added api-2 and api-3')
  for (const id of ['api-2', 'api-3']) {
    const ready = unified.search(new RegExp(`${id} ready pid`))
    assert.ok(ready > 0 && ready < reload, `${id} ready before the reload`)
  }
})

test('scale refuses bad counts, unknown servers, taken ports and a busy next port, changing nothing', async (t) => {
  const home = useHome(t, 'bm-scale-refuse-')
  const base = await freePorts(5)
  const config = home.writeConfig({
    servers: [
      fixtureServer('api', 'http-server.mjs', base, { instances: 2 }),
      fixtureServer('db', 'http-server.mjs', base + 4),
    ],
  })
  await startOk(home, config)
  const before = home.state()!.processes.map((p) => [p.id, p.pid])
  for (const [words, bad] of [
    [['api=0'], /scale api=0: expected a whole number of instances from 1 to 256/],
    [['api=x'], /scale api="x": expected a whole number of instances from 1 to 256/],
    [['api=257'], /scale api=257: expected a whole number/],
    [['api'], /"api" is not NAME=N/],
    [[], /expected NAME=N/],
    [['nosuch=2'], /scale nosuch=2: no server "nosuch" in the running stack; servers: api, db/],
    [['api=5'], new RegExp(`scale api=5: port ${base + 4} is db-0's`)],
  ] as const) {
    const r = await home.cli(['scale', ...words])
    assert.equal(r.code, 2, `scale ${words.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, bad)
  }
  // Something else holds the third port: refused before anything starts, naming the port and its holder.
  const holder = net.createServer()
  await new Promise<void>((resolve) => holder.listen(base + 2, '127.0.0.1', resolve))
  t.after(() => holder.close())
  const busy = await home.cli(['scale', 'api=4', 'db=2'])
  assert.equal(busy.code, 1, busy.stderr)
  assert.match(
    busy.stderr,
    new RegExp(`port ${base + 2} is in use by pid ${process.pid} \\(.*\\)\\nnothing was scaled`),
  )
  assert.deepEqual(
    home.state()!.processes.map((p) => [p.id, p.pid]),
    before,
  )
  assert.equal(await listening(base + 3), false, 'api-3 was not started')
  assert.equal(await listening(base + 5), false, 'db-1 was not started')
})

test('the scaled count survives a supervisor SIGKILL and a start of the same config; plan shows it', async (t) => {
  const home = useHome(t, 'bm-scale-keep-')
  const base = await freePorts(3)
  const config = home.writeConfig({
    servers: [
      fixtureServer('api', 'http-server.mjs', base),
      fixtureServer('worker', 'http-server.mjs', undefined, { command: 'sleep 600' }),
    ],
  })
  await startOk(home, config)
  ok(await home.cli(['scale', 'api=3', 'worker=2']), 'scale api=3 worker=2')
  const scaled = home.state()!
  assert.deepEqual(scaled.processes.map((p) => p.id).sort(), ['api-0', 'api-1', 'api-2', 'worker-0', 'worker-1'])
  for (let i = 0; i < 3; i++) assert.equal((await httpGet(`http://127.0.0.1:${base + i}/`)).json().instance, i)
  const plan = await home.cli(['plan', config])
  ok(plan, 'plan')
  assert.match(plan.stdout, /^api-2\s+/m)
  assert.match(plan.stdout, /api runs 3 instances, scaled from 1 in the config/)
  assert.match(plan.stdout, /worker runs 2 instances, scaled from 1 in the config/)

  // A start of the same config while it runs: nothing to do, the scale kept.
  ok(await home.cli(['start', config]), 'start again')
  process.kill(scaled.supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(scaled.supervisor.pid), 5000, 'the supervisor to die')
  const again = await startOk(home, config)
  assert.match(again.stdout, /^adopted\s+api-2/m)
  assert.match(again.stdout, /^adopted\s+worker-1/m)
  const after = home.state()!
  const byId = (s: typeof after) => s.processes.map((p) => [p.id, p.pid]).sort()
  assert.deepEqual(byId(after), byId(scaled))
  assert.notEqual(after.supervisor.pid, scaled.supervisor.pid)
  for (const p of after.processes) assert.ok(pidAlive(p.pid, p.startTime), `${p.id} still runs`)
  const status = await home.statusUntilHealthy()
  assert.match(status.stdout, new RegExp(`^api-2\\s+\\d+\\s+${base + 2}\\s+running`, 'm'))
  assert.match(status.stdout, /^worker-1\s+\d+\s+-\s+running/m)
  // Scaled back to the config's count, the plan is the config's again.
  ok(await home.cli(['scale', 'api=1', 'worker=1']), 'scale back')
  assert.doesNotMatch((await home.cli(['plan', config])).stdout, /scaled from/)
})

// The pool's own home is <home>/simple; its state names the workers.
const poolPids = (home: TestHome) =>
  (
    JSON.parse(fs.readFileSync(path.join(home.root, 'simple', 'run', 'state.json'), 'utf8')) as {
      processes: { id: string; pid: number }[]
    }
  ).processes
    .filter((p) => p.id.startsWith('worker-'))
    .map((p) => [p.id, p.pid])

test('simple restart --workers 3 grows a running pool behind nginx, keeping the running workers', async (t) => {
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const home = new TestHome('bm-scale-pool-')
  t.after(async () => {
    await home.cli(['simple', 'stop'], { timeoutMs: 20_000 })
    await home.cleanup()
  })
  const base = await freePorts(4)
  const front = base + 3
  const pool = ['--base-port', String(base), '--proxy', 'nginx', '--port', String(front)]
  ok(
    await home.cli(['simple', 'start', '--workers', '2', ...pool, '--', 'node', 'test/fixtures/http-server.mjs']),
    'start',
  )
  const before = poolPids(home)
  const load = new Load()
  load.start(`http://127.0.0.1:${front}/pool`)
  try {
    await waitFor(() => load.ok >= 50, 30_000, 'the load to get going')
    const grown = await home.cli(['simple', 'restart', '--workers', '3'], { timeoutMs: 120_000 })
    ok(grown, 'simple restart --workers 3')
    assert.match(grown.stdout, new RegExp(`scaled the pool from 2 to 3 workers on ports ${base}-${base + 2}`))
    const at = load.sent
    await waitFor(() => load.servedBy(base + 2, at) > 5, 30_000, 'worker-2 to answer through nginx')
  } finally {
    await load.stop()
  }
  assert.deepEqual(load.failed, [])
  const after = poolPids(home)
  assert.deepEqual(after.slice(0, 2), before, 'worker-0 and worker-1 were not restarted')
  assert.deepEqual(after[2][0], 'worker-2')
})
