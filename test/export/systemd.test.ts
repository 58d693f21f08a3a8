// export systemd: the units as text (a golden file; UPDATE_GOLDEN=1 rewrites it), and the same units accepted by
// systemd itself (`systemd-analyze --user verify`, no warning), with values that need escaping in them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { packageRoot } from '../../lib/core/home.ts'
import { parseConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { renderSystemdUnits } from '../../lib/export/systemd.ts'

const CONFIG = `proxy: { type: nginx, port: 8000 }
servers:
  - name: migrate
    kind: task
    command: ./migrate --to latest
  - name: api
    command: "node api.js --port {port} --shard {instance} # 100% of \\"$HOME\\""
    port: 8001
    instances: 2
    modules: [api]
    depends_on: [migrate]
    env: { GREETING: "50% off, \\"quoted\\" \\\\ back", URL: "http://127.0.0.1:{port}/x" }
  - name: web
    command: [node, web.js, "--name={name}"]
    port: 8010
    restart: always
    stop_timeout: 7
  - name: queue
    command: node queue.js
    restart: "no"
`
const plan = () => resolvePlan(parseConfig(CONFIG, '/systemd-case.yaml', { env: {} }))
const golden = path.join(packageRoot, 'test', 'golden', 'systemd-units.txt')

test('golden: export systemd writes a template unit per server, drop-ins, nginx and a target', () => {
  const files = renderSystemdUnits(plan(), { name: 'shop', dir: '/srv/shop', nginx: '/usr/sbin/nginx' })
  const text = Object.entries(files)
    .filter(([f]) => !f.endsWith('nginx.conf'))
    .map(([f, body]) => `==> ${f} <==\n${body}`)
    .join('\n')
  if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(golden, text)
  assert.equal(text, fs.readFileSync(golden, 'utf8'), `${golden} differs; UPDATE_GOLDEN=1 if intended`)
  assert.ok(files['run/nginx.conf'].includes('upstream api'), 'the generated nginx config beside the units')
})

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
test('systemd-analyze verify accepts every unit, with no warning', (t) => {
  if (analyze.status !== 0)
    return t.skip(`systemd-analyze not found (${analyze.error?.message}); it ships with systemd`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-systemd-'))
  const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-systemd-run-'))
  t.after(() => {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(runtime, { recursive: true, force: true })
  })
  // The binaries named must exist for verify: nginx is stood in for by /bin/true.
  const files = renderSystemdUnits(plan(), { name: 'shop', dir, nginx: '/bin/true' })
  for (const [f, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.writeFileSync(path.join(dir, f), body)
  }
  // A template is verified through an instance of it: a copy named for one of its ports.
  const units = ['shop-migrate@0.service', 'shop-api@8001.service', 'shop-web@8010.service', 'shop-queue@0.service']
  for (const u of units) fs.copyFileSync(path.join(dir, u.replace(/@\d+/, '@')), path.join(dir, u))
  const all = [...units, 'shop-nginx.service', 'shop.target'].map((u) => path.join(dir, u))
  const r = spawnSync('systemd-analyze', ['--user', 'verify', '--man=no', ...all], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: runtime },
  })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stderr.trim(), '', 'no warning about any unit')
})
