// init --from Procfile end to end: the converted config is accepted by plan and run by start (a web process behind
// real nginx, a worker without a port), and a second init never overwrites it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fixture, freePorts, httpGet, useHome, waitFor } from '../helpers.ts'

test('init --from Procfile writes a config that plan accepts and start runs; a second init refuses', async (t) => {
  const home = useHome(t, 'bm-init-')
  if ((await home.cli(['check-nginx'])).code !== 0) return t.skip('no nginx installed (make install-nginx)')
  const dir = path.join(home.root, 'app')
  fs.mkdirSync(dir)
  fs.writeFileSync(
    path.join(dir, 'Procfile'),
    `web: node ${fixture('http-server.mjs')} --port $PORT\nworker: node -e "setInterval(() => {}, 1000)"\n`,
  )
  const config = path.join(dir, 'dev-config.yaml')
  const init = await home.cli(['init', '--from', 'Procfile'], { cwd: dir })
  assert.equal(init.code, 0, init.stdout + init.stderr)
  assert.match(init.stdout, /guessed: web: \$PORT became \{port\}, port 5000/)
  assert.match(init.stdout, /guessed: worker: uses no \$PORT/)
  assert.ok(fs.existsSync(config))

  const plan = await home.cli(['plan', config])
  assert.equal(plan.code, 0, plan.stdout + plan.stderr)
  // Ports 5000 and 8000 may be taken on this machine: the offset moves the copy to free ones.
  const offset = String((await freePorts(1)) - 5000)
  const start = await home.cli(['start', config, '--port-offset', offset])
  assert.equal(start.code, 0, start.stdout + start.stderr)
  const front = 8000 + Number(offset)
  const answer = await waitFor(async () => (await httpGet(`http://127.0.0.1:${front}/x`).catch(() => undefined))?.body)
  assert.equal(JSON.parse(answer).server, 'web')
  const state = home.state()!
  assert.deepEqual(
    state.processes.filter((p) => p.id !== 'nginx').map((p) => [p.id, p.port ?? null]),
    [
      ['web-0', 5000 + Number(offset)],
      ['worker-0', null],
    ],
  )
  assert.equal((await home.cli(['stop'])).code, 0)

  const before = fs.readFileSync(config, 'utf8')
  const again = await home.cli(['init', '--from', 'Procfile'], { cwd: dir })
  assert.equal(again.code, 2, again.stdout + again.stderr)
  assert.match(again.stderr, /dev-config\.yaml already exists; init never overwrites a config/)
  assert.equal(fs.readFileSync(config, 'utf8'), before)
})
