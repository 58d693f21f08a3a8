// after_stop: commands run once a stop is complete, in the config's folder, their output in the unified log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fixtureServer, freePorts, startOk, stopOk, useHome, waitFor, type TestHome } from '../helpers.ts'

// Exits 9 when something still accepts connections on the port, 0 once it is free.
const portFree = (port: number) =>
  `node -e "require('net').connect(${port}, '127.0.0.1')` +
  `.on('connect', () => process.exit(9)).on('error', () => process.exit(0))"`

function stack(home: TestHome, port: number, afterStop: string[]): string {
  return home.writeConfig({
    after_stop: afterStop,
    servers: [fixtureServer('api', 'http-server.mjs', port), fixtureServer('worker', 'exits-with.mjs', undefined)],
  })
}

test('stop runs after_stop once every process is gone and its port free, in the config folder, into the log', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = stack(home, port, [`${portFree(port)} && echo port-free > after.txt`, 'pwd; echo pipeline done'])
  await startOk(home, config)
  assert.equal(fs.existsSync(path.join(home.root, 'after.txt')), false)
  const r = await stopOk(home)
  assert.match(r.stdout, /^after_stop: 2 commands ran$/m)
  assert.equal(fs.readFileSync(path.join(home.root, 'after.txt'), 'utf8'), 'port-free\n')
  const unified = home.readLog('backend-unified.log')
  assert.match(unified, new RegExp(`^after_stop +>> ${home.root.replace(/[.]/g, '\\.')}$`, 'm'))
  assert.match(unified, /^after_stop +>> pipeline done$/m)
  assert.ok(unified.indexOf('>> pipeline done') > unified.lastIndexOf('api-0 pid'), 'after the last exit line')
})

test('a failing after_stop command is reported by stop (exit 1), ends the list and does not undo the stop', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  await startOk(home, stack(home, port, ['echo first', 'echo broken >&2; exit 4', 'echo never > never.txt']))
  const r = await home.cli(['stop'])
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /^stopped 2 processes in \d+ ms; all ports released$/m)
  assert.match(r.stderr, /after_stop: "echo broken >&2; exit 4" exited with code 4; the stack stays stopped/)
  assert.equal(fs.existsSync(path.join(home.root, 'never.txt')), false)
  assert.equal(fs.existsSync(home.statePath), false)
  assert.deepEqual(home.stackProcesses(), { supervisors: [], tagged: [] })
  assert.match(home.readLog('backend-unified.log'), /^after_stop +!> broken$/m)
  const shown = await home.cli(['logs', 'after_stop'])
  assert.equal(shown.code, 0, shown.stderr)
  assert.deepEqual(shown.stdout.trimEnd().split('\n').slice(-2), [
    'after_stop          !> broken',
    'after_stop          !> echo broken >&2; exit 4: exited with code 4',
  ])
})

test('when a --foreground run ends (Ctrl+C), after_stop runs and its output shows in the terminal', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const run = home.spawnCli(['start', stack(home, port, [`${portFree(port)} && echo end of day`]), '--foreground'])
  await waitFor(() => /Ctrl\+C stops everything/.test(run.output().stdout), 60_000, 'the foreground run to be ready')
  process.kill(-run.child.pid!, 'SIGINT')
  const r = await run.done
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /^after_stop +>> end of day$/m)
  assert.match(r.stdout, /^after_stop: 1 command ran$/m)
  assert.deepEqual(home.stackProcesses(), { supervisors: [], tagged: [] })
})
