// A generator (a task with watch:) under start --watch: it runs again once per edit of what it watches, never on its
// own writes into that folder, and restarts its then_restart server after each run, which then serves what it wrote.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fixture, fixtureServer, freePorts, httpGet, startOk, useHome, waitFor } from '../helpers.ts'

test('a generator writing into its own watched folder runs exactly once per edit; then_restart restarts the server', async (t) => {
  const home = useHome(t, 'bm-generator-')
  const port = await freePorts(1)
  const spec = path.join(home.root, 'spec')
  const runsFile = path.join(home.root, 'runs.txt')
  fs.mkdirSync(spec)
  fs.writeFileSync(path.join(spec, 'openapi.yaml'), 'v1\n')
  const config = home.writeConfig({
    servers: [
      {
        name: 'gen',
        kind: 'task',
        command: `node ${fixture('self-watching-generator.mjs')}`,
        cwd: home.root,
        env: { RUNS_FILE: runsFile },
        watch: { paths: ['spec'], debounce: 100 },
        then_restart: ['api'],
      },
      fixtureServer('api', 'reads-file.mjs', port, {
        depends_on: ['gen'],
        env: { READ_FILE: path.join(spec, 'client.generated.ts') },
      }),
    ],
  })
  await startOk(home, config, '--watch')
  const runs = () => fs.readFileSync(runsFile, 'utf8').split('\n').filter(Boolean)
  // What api serves: the client it read as it started; nothing while it restarts.
  const served = () =>
    httpGet(`http://127.0.0.1:${port}/`).then(
      (r) => r.body,
      () => '',
    )
  assert.deepEqual(runs(), ['v1'])
  assert.equal(await served(), '// generated from v1 (run 1)\n')

  // Each edit waits for the run before it (and the server it restarts): a run on the generator's own writes
  // would show as the same version twice.
  for (const [i, version] of ['v2', 'v3', 'v4'].entries()) {
    const apiPid = home.record('api-0').pid
    fs.writeFileSync(path.join(spec, 'openapi.yaml'), `${version}\n`)
    await waitFor(
      async () => runs().length > i + 1 && home.record('api-0').pid !== apiPid && (await served()).includes(version),
      60_000,
      `the run for ${version} and the restart of api after it`,
    )
  }
  assert.deepEqual(runs(), ['v1', 'v2', 'v3', 'v4'])
  assert.equal(await served(), '// generated from v4 (run 4)\n')

  const lines = home
    .readLog('backend-unified.log')
    .split('\n')
    .filter((l) => /^supervisor +>> (gen|api) (running again|restarting)/.test(l))
    .map((l) => l.replace(/^supervisor +>> /, ''))
  const once = [
    'gen running again: spec/openapi.yaml changed',
    'api restarting: gen ran again (spec/openapi.yaml changed)',
  ]
  assert.deepEqual(lines, [...once, ...once, ...once])
  const json = JSON.parse((await home.cli(['status', '--json'])).stdout)
  const row = (id: string) => json.processes.find((p: { id: string }) => p.id === id)
  assert.equal(row('gen-0').state, 'completed')
  assert.equal(row('gen-0').watchTrigger, 'spec/openapi.yaml')
  assert.equal(row('api-0').watchTrigger, 'spec/openapi.yaml')
})
