// Command checks: exit 0 is healthy, anything else fails with the exit code and the last line printed; a check that
// hangs is killed with its whole group at the timeout; it runs in the instance's folder with its environment.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runCheck } from '../../lib/probe/health-check.ts'
import { shellArgv } from '../../lib/config/plan.ts'
import { pidGone, waitFor } from '../helpers.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-health-check-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
const target = { host: '127.0.0.1', cwd: dir, env: { ...process.env, PORT: '1234' } }
const command = (argv: string[]) => ({ kind: 'command' as const, argv, command: argv.join(' ') })

test('a list runs without a shell; exit 0 is healthy', async () => {
  assert.deepEqual(await runCheck(command(['true']), target, 2000), { ok: true, detail: 'check exit 0' })
  // Without a shell, "$PORT" is passed as it is.
  const literal = await runCheck(command(['test', '$PORT', '=', '1234']), target, 2000)
  assert.deepEqual(literal, { ok: false, detail: 'check exit 1' })
})

test('a string goes through /bin/sh, in the instance folder and environment; a failure says its last line', async () => {
  const seen = await runCheck(command(shellArgv(`test "$PORT" = 1234 && test "$(pwd)" = ${dir}`)), target, 2000)
  assert.deepEqual(seen, { ok: true, detail: 'check exit 0' })
  const failed = await runCheck(command(shellArgv('echo starting; echo queue unreachable >&2; exit 3')), target, 2000)
  assert.deepEqual(failed, { ok: false, detail: 'check exit 3: queue unreachable' })
})

test('a check that hangs fails at the timeout, and what it started is killed with it', async () => {
  const pidFile = path.join(dir, 'sleeper.pid')
  const hung = await runCheck(command(shellArgv(`sleep 30 & echo $! > ${pidFile}; wait`)), target, 300)
  assert.deepEqual(hung, { ok: false, detail: 'check gave no answer within 0.3 s' })
  const sleeper = Number(fs.readFileSync(pidFile, 'utf8'))
  await waitFor(() => pidGone(sleeper), 5000, `the check's sleep (pid ${sleeper}) to be killed`)
})

test('a check that cannot run fails saying why', async () => {
  const missing = await runCheck(command([path.join(dir, 'no-such-check')]), target, 2000)
  assert.equal(missing.ok, false)
  assert.match(missing.detail, /^check could not run: spawn .*no-such-check ENOENT$/)
})
