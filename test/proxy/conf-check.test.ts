// Checking a proxy config in a throwaway home: the real home is never touched, and nothing is left behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { checkInTempHome } from '../../lib/proxy/conf-check.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { parseConfig } from '../../lib/config/load.ts'
import { findNginx, testPlanInTempHome } from '../../lib/proxy/nginx/install.ts'
import { resolveHome } from '../../lib/core/home.ts'

test('checkInTempHome: the check sees the rendered file in a fresh temporary home, removed afterwards', () => {
  let root = ''
  const result = checkInTempHome(
    (home) => {
      root = home.root
      fs.mkdirSync(home.run, { recursive: true })
      const conf = path.join(home.run, 'proxy.conf')
      fs.writeFileSync(conf, 'rendered\n')
      return conf
    },
    (home, conf) => ({ ok: fs.readFileSync(conf, 'utf8') === 'rendered\n', output: path.relative(home.root, conf) }),
  )
  assert.deepEqual(result, { ok: true, output: path.join('run', 'proxy.conf') })
  assert.ok(root.startsWith(os.tmpdir()), root)
  assert.equal(fs.existsSync(root), false, `${root} is removed after the check`)
})

test('checkInTempHome: the temporary home is removed when the check throws', () => {
  let root = ''
  assert.throws(
    () =>
      checkInTempHome(
        (home) => {
          root = home.root
          fs.writeFileSync(path.join(home.root, 'x.conf'), '')
          return path.join(home.root, 'x.conf')
        },
        () => {
          throw new Error('checker crashed')
        },
      ),
    /checker crashed/,
  )
  assert.ok(root.startsWith(os.tmpdir()), root)
  assert.equal(fs.existsSync(root), false)
})

test('nginx -t of a plan in a temporary home: accepted, its words returned, the real home untouched', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-conf-check-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const real = resolveHome({}, dir)
  const nginx = findNginx(real, process.env)
  assert.ok(nginx, 'make install puts nginx into .local/')
  const yaml = 'servers:\n  - { name: core, command: "true", port: 18001 }\n'
  const result = testPlanInTempHome(nginx, resolvePlan(parseConfig(yaml, path.join(dir, 'c.yaml'))), process.env)
  assert.equal(result.ok, true, result.output)
  assert.match(result.output, /test is successful/)
  assert.deepEqual(fs.readdirSync(dir), [], `nothing is written into the real home ${real.root}`)
})
