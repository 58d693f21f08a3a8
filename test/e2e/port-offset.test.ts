// Two copies of one config, each in its own folder with its own home, side by side: the second with --port-offset
// (or BACKEND_MANAGER_PORT_OFFSET) binds every port shifted and answers through its own nginx; nothing collides.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import os from 'node:os'
import { resolveHome } from '../../lib/core/home.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import { fixtureServer, freePorts, httpGet, useHome, waitFor, type CliResult, type TestHome } from '../helpers.ts'

const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
const ok = (r: CliResult, what: string) => assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout}${r.stderr}`)
const OFFSET = 100

// The same stack, written into the home's own folder: nginx in front of two api instances and a web server.
function stack(home: TestHome, front: number): string {
  return home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: front },
    servers: [
      fixtureServer('api', 'env-reporter.mjs', front + 1, {
        health: '/health',
        instances: 2,
        env: { WEB_PORT: '{port:web}' },
      }),
      fixtureServer('web', 'http-server.mjs', front + 3, { modules: ['web'] }),
    ],
  })
}

async function answer(url: string): Promise<{ port: number; env?: Record<string, string>; server?: string }> {
  const r = await waitFor(
    async () => {
      const got = await httpGet(url).catch(() => undefined)
      return got?.status === 200 ? got : undefined
    },
    30_000,
    `an answer from ${url}`,
  )
  return JSON.parse(r.body)
}

const ports = (home: TestHome) => home.state()!.processes.map((p) => [p.id, p.port])

test('two copies of a stack run side by side, the second with --port-offset 100', async (t) => {
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const one = useHome(t, 'bm-offset-one-')
  const two = useHome(t, 'bm-offset-two-')
  // One block holds both copies' ports: 4 for the first, the same 4 moved by the offset for the second.
  const front = await freePorts(OFFSET + 4)
  const configOne = stack(one, front)
  const configTwo = stack(two, front)

  const plan = await two.cli(['plan', configTwo, '--json', '--port-offset', String(OFFSET)])
  ok(plan, 'plan --port-offset')
  const planned = JSON.parse(plan.stdout) as { proxy: { listen: string }; processes: { id: string; port: number }[] }
  assert.equal(planned.proxy.listen, `127.0.0.1:${front + OFFSET}`)
  assert.deepEqual(
    planned.processes.map((p) => [p.id, p.port]),
    [
      ['api-0', front + OFFSET + 1],
      ['api-1', front + OFFSET + 2],
      ['web-0', front + OFFSET + 3],
    ],
  )

  ok(await one.cli(['start', configOne]), 'start of the first copy')
  ok(await two.cli(['start', configTwo, '--port-offset', String(OFFSET)]), 'start of the second copy')
  assert.deepEqual(ports(one), [
    ['api-0', front + 1],
    ['api-1', front + 2],
    ['web-0', front + 3],
    ['nginx', front],
  ])
  assert.deepEqual(ports(two), [
    ['api-0', front + OFFSET + 1],
    ['api-1', front + OFFSET + 2],
    ['web-0', front + OFFSET + 3],
    ['nginx', front + OFFSET],
  ])

  // Each nginx sends to its own copy, and {port:NAME} followed the offset.
  const first = await answer(`http://127.0.0.1:${front}/who`)
  const second = await answer(`http://127.0.0.1:${front + OFFSET}/who`)
  assert.ok([front + 1, front + 2].includes(first.port), `first copy answered from ${first.port}`)
  assert.ok([front + OFFSET + 1, front + OFFSET + 2].includes(second.port), `second copy answered from ${second.port}`)
  assert.equal(first.env!.WEB_PORT, String(front + 3))
  assert.equal(second.env!.WEB_PORT, String(front + OFFSET + 3))
  assert.equal((await answer(`http://127.0.0.1:${front + OFFSET}/api/v1/web/x`)).port, front + OFFSET + 3)

  const status = await two.statusUntilHealthy()
  assert.equal(status.code, 0, status.stdout + status.stderr)
  assert.match(status.stdout, new RegExp(`^api-1\\s+\\d+\\s+${front + OFFSET + 2}\\s+running`, 'm'))
  assert.match(status.stdout, new RegExp(`^nginx\\s+\\d+\\s+${front + OFFSET}\\s+running`, 'm'))

  // A restart of the second copy keeps its offset (given at start, not again here): still beside the first.
  ok(await two.cli(['restart'], { timeoutMs: 120_000 }), 'restart of the second copy')
  assert.deepEqual(ports(two), [
    ['api-0', front + OFFSET + 1],
    ['api-1', front + OFFSET + 2],
    ['web-0', front + OFFSET + 3],
    ['nginx', front + OFFSET],
  ])
  assert.equal((await answer(`http://127.0.0.1:${front + OFFSET}/who`)).env!.WEB_PORT, String(front + OFFSET + 3))
  assert.equal((await answer(`http://127.0.0.1:${front}/who`)).env!.WEB_PORT, String(front + 3))

  // apply reads the config with the running offset too: nothing differs.
  for (const args of [['apply'], ['apply', '--port-offset', String(OFFSET)]]) {
    const applied = await two.cli(args)
    ok(applied, args.join(' '))
    assert.match(applied.stdout, /^no changes/)
  }

  // status and stop act on the home; --port-offset there names the copy meant, and another one is said, not stopped.
  const named = await two.cli(['status', '--port-offset', String(OFFSET)])
  assert.equal(named.stderr, '')
  const other = await two.cli(['status', '--port-offset', '5'])
  assert.match(other.stderr, new RegExp(`note: the stack in ${two.root} runs with port offset ${OFFSET}, not 5`))
  const wrongStop = await two.cli(['stop', '--port-offset', '0'])
  assert.equal(wrongStop.code, 2, wrongStop.stderr)
  assert.match(wrongStop.stderr, /runs with port offset 100, not 0 \(--port-offset\); nothing was stopped/)
  assert.equal((await answer(`http://127.0.0.1:${front + OFFSET}/who`)).port > front + OFFSET, true)
  ok(await two.cli(['stop', '--port-offset', String(OFFSET)]), 'stop of the second copy')
  assert.equal(two.state(), undefined)
  assert.equal((await answer(`http://127.0.0.1:${front}/who`)).env!.WEB_PORT, String(front + 3))
})

test('BACKEND_MANAGER_PORT_OFFSET shifts like the flag; bad offsets exit 2 naming the flag', async (t) => {
  const home = useHome(t, 'bm-offset-bad-')
  const front = await freePorts(1)
  const config = stack(home, front)
  const fromEnv = await home.cli(['plan', config, '--json'], { env: { BACKEND_MANAGER_PORT_OFFSET: '7' } })
  ok(fromEnv, 'plan with BACKEND_MANAGER_PORT_OFFSET')
  assert.equal(JSON.parse(fromEnv.stdout).proxy.listen, `127.0.0.1:${front + 7}`)

  for (const bad of ['abc', '2.5', '-1']) {
    const r = await home.cli(['start', config, `--port-offset=${bad}`])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, new RegExp(`--port-offset: ${JSON.stringify(bad)} is not a whole number from 0 to 65534`))
  }
  const past = 65535 - (front + 3) + 1
  const tooFar = await home.cli(['start', config, '--port-offset', String(past)])
  assert.equal(tooFar.code, 2, tooFar.stderr)
  assert.match(
    tooFar.stderr,
    new RegExp(
      `--port-offset ${past}: moves servers\\[1\\]\\.port of ${config} to 65536, past 65535` +
        `, expected an offset of at most ${past - 1}`,
    ),
  )
  const badEnv = await home.cli(['start', config], { env: { BACKEND_MANAGER_PORT_OFFSET: 'ten' } })
  assert.equal(badEnv.code, 2, badEnv.stderr)
  assert.match(badEnv.stderr, /BACKEND_MANAGER_PORT_OFFSET: "ten" is not a whole number/)
  assert.equal(home.state(), undefined, 'nothing started')
})
