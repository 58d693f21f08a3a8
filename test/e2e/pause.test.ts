// pause / resume end to end: a real supervisor, real nginx in front of two real instances, a steady 200 req/s
// load; a paused instance gets no request, its group is stopped (state T), it stays paused across a supervisor's
// death, and a stop with it paused is as quick as without.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { Load } from '../load.ts'
import {
  fixtureServer,
  freePorts,
  groupMembers,
  httpGet,
  listening,
  pidAlive,
  pidGone,
  procStat,
  startOk,
  useHome,
  waitFor,
  type RecordedProcess,
} from '../helpers.ts'

const home = useHome({ after }, 'bm-pause-')
let config = ''
let api0 = 0
let api1 = 0
let solo = 0
let proxyPort = 0
const url = () => `http://127.0.0.1:${proxyPort}/pause`

async function statusJson(): Promise<{ code: number; status: any }> {
  const r = await home.cli(['status', '--json'])
  assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr)
  return { code: r.code, status: JSON.parse(r.stdout) }
}

const row = (status: any, id: string) => status.processes.find((p: any) => p.id === id)

// Every live member of the recorded group is stopped by a signal.
function groupStopped(record: RecordedProcess): boolean {
  const members = groupMembers(record.pgid)
  return members.length > 0 && members.every((pid) => procStat(pid)?.state === 'T')
}

const unified = () => home.readLog('backend-unified.log')

// The load runs while `during` does; no request may fail.
async function underLoad(during: (load: Load) => Promise<void>): Promise<Load> {
  const load = new Load()
  load.start(url())
  try {
    await waitFor(() => load.ok >= 50, 30_000, 'the load to get going')
    await during(load)
  } finally {
    await load.stop()
  }
  assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`)
  return load
}

before(async () => {
  const base = await freePorts(4)
  ;[api0, api1, solo, proxyPort] = [base, base + 1, base + 2, base + 3]
  const proxy = { type: 'nginx', host: '127.0.0.1', port: proxyPort }
  const servers = [
    fixtureServer('api', 'http-server.mjs', api0, { instances: 2 }),
    fixtureServer('solo', 'http-server.mjs', solo, { modules: ['solo'] }),
  ]
  config = home.writeConfig({ proxy, servers })
  await startOk(home, config)
})

test('pause api-1 under 200 req/s: no request fails, none reaches it after pause returns, its group is stopped', async () => {
  const paused = home.record('api-1')
  await underLoad(async (load) => {
    await waitFor(() => load.servedBy(api1) > 10, 30_000, 'api-1 to serve')
    const r = await home.cli(['pause', 'api-1'])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, new RegExp(`^paused api-1 \\(pid ${paused.pid}\\), out of nginx's rotation$`, 'm'))
    const pausedAt = load.sent
    assert.ok(groupStopped(paused), `api-1's group is stopped (state T): ${JSON.stringify(procStat(paused.pid))}`)
    // Counted by send order: answers to requests sent before the pause returned do not count here.
    await waitFor(
      () => load.servedBy(api0, pausedAt) >= 200,
      30_000,
      'api-0 to take the requests while api-1 is paused',
    )
    assert.equal(load.servedBy(api1, pausedAt), 0, 'no request reached api-1 after pause returned')
  })
  const { code, status } = await statusJson()
  assert.equal(row(status, 'api-1').state, 'paused')
  assert.equal(row(status, 'api-1').health, 'paused')
  assert.equal(row(status, 'api-1').pid, paused.pid)
  assert.equal(row(status, 'api-0').state, 'running')
  assert.equal(status.healthy, true, 'paused on purpose is not a failure')
  assert.equal(code, 0)
  const text = await home.cli(['status'])
  assert.match(text.stdout, /all healthy, 1 paused/)
  assert.match(text.stdout, /^api-1: paused \(SIGSTOP\)/m)
  assert.match(unified(), new RegExp(`^supervisor +>> api-1 paused pid ${paused.pid} \\(SIGSTOP\\)$`, 'm'))
  // `health` does not probe it (a stopped process would only time out) and does not count it as a failure.
  const health = await home.cli(['health'])
  assert.equal(health.code, 0, health.stdout + health.stderr)
  assert.match(health.stdout, /^api-1 +direct +paused +not probed/m)
  // Paused again: nothing to do.
  const again = await home.cli(['pause', 'api-1'])
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /^api-1 already paused$/m)
})

test('resume api-1 under load: it serves again as the same process, no request fails', async () => {
  const paused = home.record('api-1')
  await underLoad(async (load) => {
    const r = await home.cli(['resume', 'api-1'])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, new RegExp(`^resumed api-1 \\(pid ${paused.pid}\\), back in nginx's rotation$`, 'm'))
    const resumedAt = load.sent
    await waitFor(() => load.servedBy(api1, resumedAt) > 20, 30_000, 'api-1 back in rotation')
  })
  assert.ok(!groupStopped(paused), 'api-1 runs again')
  const { code, status } = await statusJson()
  assert.equal(row(status, 'api-1').state, 'running')
  assert.equal(row(status, 'api-1').pid, paused.pid)
  assert.equal(code, 0)
  assert.match(unified(), new RegExp(`^supervisor +>> api-1 resumed pid ${paused.pid} \\(SIGCONT\\)$`, 'm'))
})

test('a paused one-instance server: nginx answers 502 at once instead of waiting on it; resume serves again', async () => {
  const soloUrl = `http://127.0.0.1:${proxyPort}/api/v1/solo/x`
  assert.equal((await httpGet(soloUrl)).status, 200)
  const r = await home.cli(['pause', 'solo'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /^paused solo-0 \(pid \d+\), out of nginx's rotation$/m)
  // Well within the client's 5 s: nginx does not wait on the stopped process (its proxy timeouts are longer).
  assert.deepEqual([(await httpGet(soloUrl)).status, (await httpGet(soloUrl)).status], [502, 502])
  const back = await home.cli(['resume', 'solo'])
  assert.equal(back.code, 0, back.stdout + back.stderr)
  assert.equal((await httpGet(soloUrl)).status, 200)
})

test('pause of a name the stack does not run exits 2 and changes nothing', async () => {
  const r = await home.cli(['pause', 'nope'])
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /no server or instance "nope" in the running stack; servers: api, solo/)
  assert.equal((await home.cli(['resume'])).code, 2)
  assert.equal(home.record('api-0').state, 'running')
  assert.equal(home.record('api-1').state, 'running')
})

test('restart of a paused instance starts it afresh, back in rotation', async () => {
  assert.equal((await home.cli(['pause', 'api-1'])).code, 0)
  const paused = home.record('api-1')
  const r = await home.cli(['restart', '--only', 'api'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const fresh = home.record('api-1')
  assert.notEqual(fresh.pid, paused.pid)
  assert.equal(fresh.state, 'running')
  assert.ok(pidGone(paused.pid, paused.startTime), 'the paused process was stopped')
  assert.doesNotMatch(fs.readFileSync(path.join(home.root, 'run', 'nginx.conf'), 'utf8'), / down;/)
  await underLoad(async (load) => {
    const from = load.sent
    await waitFor(() => load.servedBy(api1, from) > 20, 30_000, 'the fresh api-1 in rotation')
  })
})

test('a paused instance stays paused and out of rotation across a supervisor SIGKILL and a new start', async () => {
  const paused = home.record('api-1')
  assert.equal((await home.cli(['pause', 'api-1'])).code, 0)
  const supervisor = home.state()!.supervisor
  process.kill(supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(supervisor.pid), 10_000, 'the supervisor to die')
  await underLoad(async (load) => {
    await startOk(home, config)
    const restartedAt = load.sent
    assert.notEqual(home.state()!.supervisor.pid, supervisor.pid)
    const okThen = load.ok
    await waitFor(() => load.ok >= okThen + 200, 30_000, 'requests after the new start')
    assert.equal(load.servedBy(api1, restartedAt), 0, 'no request reached api-1')
  })
  const record = home.record('api-1')
  assert.equal(record.pid, paused.pid)
  assert.equal(record.state, 'paused')
  assert.ok(groupStopped(paused), 'still stopped')
  const conf = fs.readFileSync(path.join(home.root, 'run', 'nginx.conf'), 'utf8')
  assert.match(conf, new RegExp(`:${api1} max_fails=0 down;`))
  assert.equal(row((await statusJson()).status, 'api-1').state, 'paused')
  assert.match(
    unified(),
    new RegExp(`^supervisor +>> api-1 adopted pid ${paused.pid} port ${api1} \\(paused, left paused\\)$`, 'm'),
  )
})

test('stop with api-1 paused: every process gone, ports released, no SIGKILL needed', async () => {
  const paused = home.record('api-1')
  assert.ok(groupStopped(paused), 'api-1 is paused')
  const records = home.state()!.processes
  const r = await home.cli(['stop'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.doesNotMatch(r.stdout + r.stderr, /killed/)
  assert.match(r.stdout, /^stopped 4 processes in \d+ ms; all ports released$/m)
  for (const p of records) assert.ok(pidGone(p.pid, p.startTime), `${p.id} (pid ${p.pid}) is gone`)
  assert.equal(pidAlive(paused.pid, paused.startTime), false)
  for (const port of [api0, api1, solo, proxyPort]) assert.equal(await listening(port), false, `port ${port} released`)
  assert.doesNotMatch(unified(), /SIGKILL/)
})

test('a paused instance that is killed is not restarted by its restart policy', async () => {
  await startOk(home, config)
  assert.equal((await home.cli(['pause', 'api-1'])).code, 0)
  const paused = home.record('api-1')
  process.kill(-paused.pgid, 'SIGKILL')
  await waitFor(() => home.record('api-1').state === 'stopped', 10_000, 'api-1 recorded as stopped')
  assert.equal(home.record('api-1').lastExit, 'killed by SIGKILL')
  assert.equal(home.record('api-1').pid, paused.pid, 'no new process')
  assert.doesNotMatch(unified(), /api-1 restarting/)
  assert.equal(row((await statusJson()).status, 'api-1').state, 'stopped')
})
