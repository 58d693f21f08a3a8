// The single layout for real: one process of the root server serves every module's route on the front port, with
// no nginx in front; stop leaves nothing. `layout: single` in the config is what plan shows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import {
  commandLine,
  fixtureServer,
  freePorts,
  httpGet,
  listening,
  useHome,
  waitFor,
  type CliResult,
} from '../helpers.ts'

const ok = (r: CliResult, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout}${r.stderr}`)

interface Report {
  port: number
  pid: number
  env: Record<string, string>
}

// nginx rewrites its environment: it is found by its command line, which names the home as its prefix.
function nginxOf(root: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => /^nginx/.test(commandLine(pid)) && commandLine(pid).includes(root))
}

test('start --layout single: one process answers every module and "/" on the front port, no nginx', async (t) => {
  const home = useHome(t, 'bm-single-')
  const front = await freePorts(4)
  const [core, broker, datafeed] = [front + 1, front + 2, front + 3]
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: front },
    servers: [
      fixtureServer('core', 'env-reporter.mjs', core, { health: '/health' }),
      fixtureServer('broker', 'http-server.mjs', broker, { modules: ['broker'] }),
      fixtureServer('datafeed', 'http-server.mjs', datafeed, { modules: ['datafeed', 'quotes'] }),
      fixtureServer('worker', 'http-server.mjs', undefined, { command: 'sleep 600' }),
    ],
  })
  const started = await home.cli(['start', config, '--layout', 'single'])
  ok(started, 'start')
  assert.match(started.stdout, /all 2 processes ready/)

  const answers: Report[] = []
  for (const url of ['/api/v1/broker/orders', '/api/v1/datafeed/quotes', '/api/v1/quotes/x', '/'])
    answers.push(JSON.parse((await httpGet(`http://127.0.0.1:${front}${url}`)).body) as Report)
  const pids = new Set(answers.map((a) => a.pid))
  assert.equal(pids.size, 1, 'one process answers every route')
  for (const a of answers) {
    assert.equal(a.port, front)
    assert.equal(a.env.ENABLED_MODULES, 'broker,datafeed,quotes')
    assert.equal(a.env.SERVER_NAME, 'core')
  }
  // The servers folded into it, and the root's own port, are not served by anything.
  for (const port of [core, broker, datafeed]) assert.equal(await listening(port), false, `port ${port} is free`)

  const status = JSON.parse((await home.cli(['status', '--json'])).stdout) as {
    processes: { id: string; kind: string; pid: number }[]
  }
  assert.deepEqual(
    status.processes.filter((p) => p.kind !== 'supervisor').map((p) => [p.id, p.kind]),
    [
      ['core-0', 'server'],
      ['worker-0', 'server'],
    ],
  )
  assert.equal(status.processes.find((p) => p.id === 'core-0')!.pid, [...pids][0])
  assert.deepEqual(nginxOf(home.root), [])
  ok(await home.statusUntilHealthy(), 'status')

  // restart (from any shell, without the flag) keeps the layout the stack was started with.
  assert.equal((home.state()!.plan as { layout?: string }).layout, 'single')
  ok(await home.cli(['restart']), 'restart')
  const after = JSON.parse((await httpGet(`http://127.0.0.1:${front}/api/v1/broker/x`)).body) as Report
  assert.notEqual(after.pid, [...pids][0])
  assert.equal(after.env.ENABLED_MODULES, 'broker,datafeed,quotes')
  assert.deepEqual(nginxOf(home.root), [])

  ok(await home.cli(['stop']), 'stop')
  await waitFor(() => home.processes().length === 0, 15_000, 'no process left')
  assert.equal(await listening(front), false)
})

test('plan of a config with layout: single shows the fold; without a root it is a config error', async (t) => {
  const home = useHome(t, 'bm-single-plan-')
  const servers = [
    fixtureServer('core', 'env-reporter.mjs', 9101),
    fixtureServer('broker', 'http-server.mjs', 9102, { modules: ['broker'] }),
  ]
  const config = home.writeConfig({ proxy: { type: 'nginx', port: 9100 }, layout: 'single', servers })
  const r = await home.cli(['plan', config])
  ok(r, 'plan')
  assert.match(r.stdout, /^Layout: single \(broker folded into core-0 on 127\.0\.0\.1:9100; no proxy\)$/m)
  assert.match(r.stdout, /^core-0 +9100 /m)
  assert.doesNotMatch(r.stdout, /^broker-0/m)
  // The flag wins over the key.
  assert.match((await home.cli(['plan', config, '--layout', 'multi'])).stdout, /^broker-0 +9102 /m)

  const rootless = home.writeConfig({ layout: 'single', servers: servers.slice(1) }, 'rootless.yaml')
  const bad = await home.cli(['plan', rootless])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /rootless\.yaml: layout: single runs one server without modules.*set layout: multi/)
})
