// Health after ready, end to end: a real supervisor, real nginx in front of two real instances under 200 req/s.
// An instance that turns sick is taken out of rotation at its first failed check (no request fails from then on),
// restarted after `retries` failures in a row, and said so in the log and status; one that recovers goes back
// without a restart; a portless worker's command check restarts it; a paused instance is not checked.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { Load } from '../load.ts'
import { fixtureServer, freePorts, sleep, startOk, useHome, waitFor } from '../helpers.ts'

const home = useHome({ after }, 'bm-health-acts-')
let skipReason: string | undefined
let proxyPort = 0
let base = 0
const file = (name: string) => path.join(home.root, name)
const fast = { interval: 0.2, timeout: 1, retries: 3 }

before(async () => {
  if ((await home.cli(['check-nginx'])).code !== 0) {
    skipReason = 'no nginx installed (make install-nginx)'
    return
  }
  base = await freePorts(6)
  proxyPort = base + 5
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: proxyPort },
    servers: [
      fixtureServer('api', 'turns-sick.mjs', base, {
        instances: 2,
        health: { check: '/health', ...fast },
        env: { SICK_FILE: file('api-sick-{instance}') },
      }),
      fixtureServer('flaky', 'turns-sick.mjs', base + 2, {
        instances: 2,
        modules: ['flaky'],
        health: { check: '/health', ...fast, retries: 1000 },
        env: { SICK_WHILE: file('flaky-sick-{instance}') },
      }),
      fixtureServer('calm', 'turns-sick.mjs', base + 4, {
        modules: ['calm'],
        health: { check: '/health', interval: 0.2, timeout: 0.3, retries: 2 },
      }),
      fixtureServer('worker', 'hog.mjs', undefined, {
        env: { HOG_MB: '1' },
        health: { check: `test ! -e ${file('worker-broken')}`, interval: 0.2, retries: 2 },
      }),
    ],
  })
  await startOk(home, config)
})

const lineMatching = (pattern: RegExp) => home.supervisorLines().find((l) => pattern.test(l))

async function statusJson(): Promise<any> {
  const r = await home.cli(['status', '--json'])
  assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr)
  return JSON.parse(r.stdout)
}
const row = (status: any, id: string) => status.processes.find((p: any) => p.id === id)

test('an instance that turns sick under 200 req/s: out of rotation, restarted, back; no failure once it is out', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  const pidOf = (state: typeof before, id: string) => state.processes.find((p) => p.id === id)!.pid
  const load = new Load()
  load.start(`http://127.0.0.1:${proxyPort}/sick`)
  let failedAtDrain = 0
  let sentAtDrain = 0
  let sentAtBack = 0
  try {
    await waitFor(() => load.ok >= 100, 30_000, 'the load to get going')
    fs.writeFileSync(file('api-sick-1'), '')
    await waitFor(
      () => lineMatching(/^nginx reloaded pid \d+ \(api-1 out of rotation: unhealthy \(HTTP 500\)\)$/),
      30_000,
      'api-1 out of rotation',
    )
    // The reload has waited for the requests in flight on the old workers: none can reach api-1 any more.
    failedAtDrain = load.failed.length
    sentAtDrain = load.sent
    await waitFor(
      () => lineMatching(/^api-1 restarting pid \d+: unhealthy: HTTP 500 \(3 checks failed in a row\)$/),
      30_000,
    )
    await waitFor(() => lineMatching(/^nginx reloaded pid \d+ \(api-1 back in rotation: ready again\)$/), 60_000)
    sentAtBack = load.sent
    await waitFor(() => load.servedBy(base + 1, sentAtBack) > 20, 30_000, 'the new api-1 serving')
  } finally {
    await load.stop()
  }
  const afterDrain = load.failed.slice(failedAtDrain)
  assert.deepEqual(afterDrain, [], `${afterDrain.length} requests failed after api-1 was out of rotation`)
  assert.ok(load.servedBy(base, sentAtDrain) > 0, 'api-0 took the requests meanwhile')
  const lines = home.supervisorLines()
  const first = lines.findIndex((l) => /^api-1 unhealthy pid \d+: HTTP 500 \(1 of 3 checks failed in a row\)$/.test(l))
  const third = lines.findIndex((l) => /^api-1 unhealthy pid \d+: HTTP 500 \(3 of 3 checks failed in a row\)$/.test(l))
  const restart = lines.findIndex((l) => /^api-1 restarting pid/.test(l))
  assert.ok(first >= 0 && first < third && third < restart, lines.join('\n'))
  const after = home.state()!
  assert.notEqual(pidOf(after, 'api-1'), pidOf(before, 'api-1'), 'api-1 was restarted')
  assert.equal(pidOf(after, 'api-0'), pidOf(before, 'api-0'), 'api-0 was left alone')
  const status = await statusJson()
  assert.equal(row(status, 'api-1').restartReason, 'unhealthy: HTTP 500 (3 checks failed in a row)')
  assert.equal(row(status, 'api-1').restarts, 1)
  assert.equal(row(status, 'api-0').restartReason, null)
  const text = await home.cli(['status'])
  assert.match(text.stdout, /^api-1 .* ok \(last restarted: unhealthy: HTTP 500 \(3 checks failed in a row\)\) /m)
})

test('an instance that recovers goes back in rotation without a restart', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const pid = home.record('flaky-0').pid
  fs.writeFileSync(file('flaky-sick-0'), '')
  await waitFor(
    () => lineMatching(/^nginx reloaded pid \d+ \(flaky-0 out of rotation: unhealthy \(HTTP 500\)\)$/),
    30_000,
    'flaky-0 out of rotation',
  )
  fs.rmSync(file('flaky-sick-0'))
  await waitFor(() => lineMatching(/^flaky-0 healthy again pid \d+ \(HTTP 200\)$/), 30_000)
  await waitFor(() => lineMatching(/^nginx reloaded pid \d+ \(flaky-0 back in rotation: healthy again\)$/), 30_000)
  assert.equal(home.record('flaky-0').pid, pid, 'not restarted')
  assert.equal(lineMatching(/^flaky-0 restarting/), undefined)
  // Back in rotation: nginx sends it requests again.
  const load = new Load()
  load.start(`http://127.0.0.1:${proxyPort}/api/v1/flaky/x`)
  try {
    await waitFor(() => load.servedBy(base + 2) > 10, 30_000, 'flaky-0 serving again')
  } finally {
    await load.stop()
  }
})

test('a portless worker with a command check is restarted when the command keeps failing', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const pid = home.record('worker-0').pid
  fs.writeFileSync(file('worker-broken'), '')
  await waitFor(
    () => lineMatching(/^worker-0 restarting pid \d+: unhealthy: check exit 1 \(2 checks failed in a row\)$/),
    30_000,
  )
  fs.rmSync(file('worker-broken'))
  await waitFor(() => home.record('worker-0').pid !== pid && home.record('worker-0').state === 'running', 30_000)
  assert.match(lineMatching(/^worker-0 unhealthy pid/)!, /^worker-0 unhealthy pid \d+: check exit 1 \(1 of 2 checks/)
})

test('a paused instance is not checked, so it is not restarted', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const pid = home.record('calm-0').pid
  const r = await home.cli(['pause', 'calm-0'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  // Ten intervals: a check of the stopped process would time out twice and restart it.
  await sleep(2500)
  assert.equal(lineMatching(/^calm-0 unhealthy/), undefined, home.supervisorLines().join('\n'))
  assert.equal(home.record('calm-0').pid, pid)
  assert.equal(home.record('calm-0').state, 'paused')
  assert.equal((await home.cli(['resume', 'calm-0'])).code, 0)
})
