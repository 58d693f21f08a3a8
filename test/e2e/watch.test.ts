// start --watch with real files, processes and nginx: an edit restarts a watched server (rolling, 0 failed requests
// for 2 instances under 200 req/s), ignored files restart nothing, a crashed server waits for the next change
// instead of crash-looping, and status names the file that triggered the last restart.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { Load } from '../load.ts'
import { fixtureServer, freePorts, startOk, useHome, waitFor, type RecordedState } from '../helpers.ts'

const home = useHome({ after }, 'bm-watch-')
let skipReason: string | undefined
let config = ''
let proxyPort = 0
let base = 0

// Each server's watched folder beside the config; `mode` in it says how the next process starts.
const src = (server: string) => path.join(home.root, `${server}-src`)
const spawns = (server: string) => path.join(home.root, `${server}.spawns`)
const spawnCount = (server: string) => fs.readFileSync(spawns(server), 'utf8').split('\n').filter(Boolean).length
// crash: the process listens (it becomes ready), then exits with code 1.
const command = (server: string) =>
  `echo spawn >> ${spawns(server)}; grep -q crash ${src(server)}/mode && exec node test/fixtures/crasher.mjs;` +
  ` exec node test/fixtures/http-server.mjs`
const edit = (server: string, file: string, text: string) => fs.writeFileSync(path.join(src(server), file), text)

const pids = (s: RecordedState = home.state()!) => Object.fromEntries(s.processes.map((p) => [p.id, p.pid]))

// The stack: api (2 instances behind nginx) and solo, each watching its own folder; `apiEnv` changes api's config.
function writeStack(apiEnv: Record<string, string> = {}): string {
  return home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: proxyPort },
    servers: [
      {
        ...fixtureServer('api', 'http-server.mjs', base, { instances: 2, env: apiEnv }),
        command: command('api'),
        watch: ['api-src'],
      },
      {
        ...fixtureServer('solo', 'http-server.mjs', base + 2, { modules: ['solo'] }),
        command: command('solo'),
        env: { CRASH_AFTER_MS: '300' },
        max_restarts: 1,
        watch: { paths: ['solo-src'], debounce: 100 },
      },
    ],
  })
}

before(async () => {
  if ((await home.cli(['check-nginx'])).code !== 0) {
    skipReason = 'no nginx installed (make install-nginx)'
    return
  }
  for (const server of ['api', 'solo']) {
    fs.mkdirSync(path.join(src(server), 'node_modules'), { recursive: true })
    edit(server, 'mode', 'serve\n')
  }
  base = await freePorts(4)
  proxyPort = base + 3
  config = writeStack()
  await startOk(home, config, '--watch')
})

test('an edit restarts a 2-instance server one instance at a time under 200 req/s: new pids, no request fails', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = pids()
  const load = new Load()
  load.start(`http://127.0.0.1:${proxyPort}/watched`)
  try {
    await waitFor(() => load.ok >= 100, 30_000, 'the load to get going')
    // Written first, and ignored (a default ignore): the restart names only the file it was for.
    edit('api', 'node_modules/dep.js', 'x\n')
    edit('api', 'app.js', 'v2\n')
    await waitFor(
      () =>
        ['api-0', 'api-1'].every(
          (id) => home.state()!.processes.find((p) => p.id === id)?.state === 'running' && pids()[id] !== before[id],
        ),
      60_000,
      'both api instances restarted and running',
    )
    const okAtEnd = load.ok
    await waitFor(() => load.ok >= okAtEnd + 50, 30_000, 'requests after the restart')
  } finally {
    await load.stop()
  }
  assert.deepEqual(load.failed, [], `${load.failed.length} of ${load.ok + load.failed.length} requests failed`)
  assert.equal(pids()['solo-0'], before['solo-0'], 'solo watches another folder and kept its pid')
  const lines = home.supervisorLines()
  assert.deepEqual(
    lines.filter((l) => l.startsWith('api restarting')),
    ['api restarting: api-src/app.js changed'],
  )
  assert.ok(lines.includes('nginx reloaded pid ' + home.record('nginx').pid + ' (api-0 out of rotation: restarting)'))

  const json = JSON.parse((await home.cli(['status', '--json'])).stdout)
  const row = (id: string) => json.processes.find((p: { id: string }) => p.id === id)
  assert.equal(row('api-0').watchTrigger, 'api-src/app.js')
  assert.equal(row('api-1').watchTrigger, 'api-src/app.js')
  assert.equal(row('solo-0').watchTrigger, undefined)
  const text = await home.cli(['status'])
  assert.match(text.stdout, /^api-0: last restarted by a change to api-src\/app\.js$/m)
})

const waitingAt = () => home.supervisorLines().indexOf('solo-0 waiting for a change to start again')

test('a server that crashes for good waits for the next change instead of crash-looping', async (t) => {
  if (skipReason) return t.skip(skipReason)
  assert.equal(spawnCount('solo'), 1)
  // The new process becomes ready, then crashes; its one restart (max_restarts 1) crashes too.
  edit('solo', 'mode', 'crash\n')
  // The line is written just before the state file says crashed: both are waited for.
  await waitFor(
    () => waitingAt() >= 0 && home.record('solo-0').state === 'crashed',
    60_000,
    'solo-0 crashed and waiting for a change',
  )
  assert.equal(spawnCount('solo'), 3, 'spawned at start, on the edit, and once by its restart policy')
  const status = JSON.parse((await home.cli(['status', '--json'])).stdout)
  const solo = status.processes.find((p: { id: string }) => p.id === 'solo-0')
  assert.equal(solo.state, 'crashed')
  assert.equal(solo.watchTrigger, 'solo-src/mode')

  edit('solo', 'mode', 'serve\n')
  const readyAgain = () =>
    home
      .supervisorLines()
      .slice(waitingAt())
      .some((l) => l.startsWith('solo-0 ready'))
  await waitFor(() => home.record('solo-0').state === 'running' && readyAgain(), 60_000, 'solo-0 running again')
  // Nothing started it between the crash and the fix: one spawn more, for the fix.
  assert.equal(spawnCount('solo'), 4)
  const lines = home.supervisorLines()
  const waiting = lines.indexOf('solo-0 waiting for a change to start again')
  assert.deepEqual(
    lines
      .slice(waiting + 1)
      .filter((l) => /^solo(-0)? /.test(l))
      .map((l) => l.replace(/pid \d+.*/, 'pid')),
    ['solo restarting: solo-src/mode changed', 'solo-0 spawned pid', 'solo-0 ready pid'],
  )
})

test('a supervisor that takes the stack over (restart --only of a changed server) keeps watching', async (t) => {
  if (skipReason) return t.skip(skipReason)
  const before = home.state()!
  writeStack({ FLAVOR: 'b' })
  const r = await home.cli(['restart', config, '--only', 'api'], { timeoutMs: 120_000 })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const after = home.state()!
  assert.notEqual(after.supervisor.pid, before.supervisor.pid, 'a new supervisor took the stack over')
  assert.equal((after.plan as { watch?: boolean }).watch, true)
  const restarted = pids(after)
  edit('api', 'app.js', 'v3\n')
  await waitFor(
    () => ['api-0', 'api-1'].every((id) => pids()[id] !== restarted[id] && home.record(id).state === 'running'),
    60_000,
    'api restarted by the new supervisor on the edit',
  )
  assert.equal(pids()['solo-0'], restarted['solo-0'], 'solo was adopted, not restarted')
})

test('--watch on a config where no server has watch: exits 2 naming the key, and starts nothing', async (t) => {
  const other = useHome(t, 'bm-watch-none-')
  const file = other.writeConfig({ servers: [fixtureServer('plain', 'http-server.mjs', await freePorts(1))] })
  const r = await other.cli(['start', file, '--watch'])
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /--watch: no server in .*config\.yaml has "watch:"/)
  assert.equal(other.state(), undefined)
})
