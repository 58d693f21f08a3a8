// An idle stack costs its supervisor next to nothing: no timer wakes it many times a second, yet a burst a server
// prints still reaches the unified log, every line once and in order. Real servers, real supervisor.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { assertBurst, fixtureServer, freePorts, sleep, startOk, useHome, waitFor } from '../helpers.ts'

function voluntarySwitches(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)![1])
}

test('an idle supervisor of 8 servers sleeps: it wakes far less often than a 50 ms poll would make it', async (t) => {
  if (!fs.existsSync('/proc/self/status')) return t.skip('needs /proc')
  const home = useHome(t)
  const port = await freePorts(8)
  const servers = Array.from({ length: 8 }, (_, i) => fixtureServer(`idle${i}`, 'http-server.mjs', port + i))
  await startOk(home, home.writeConfig({ servers }))
  const supervisor = JSON.parse(fs.readFileSync(home.statePath, 'utf8')).supervisor.pid as number
  // Let the bring-up's last reads and writes settle.
  await sleep(2000)
  const before = voluntarySwitches(supervisor)
  await sleep(5000)
  const switches = voluntarySwitches(supervisor) - before
  // Each wake-up is at least one voluntary switch: a 50 ms poll makes >= 100 in 5 s whatever the load (load adds
  // involuntary switches, not voluntary ones), while 2 s safety polls and CPU samples make about 10.
  assert.ok(switches < 40, `the idle supervisor switched voluntarily ${switches} times in 5 s (a poll loop?)`)
})

test('a burst of 1000 lines from a server of an idle stack lands in the unified log, once each and in order', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const go = path.join(home.root, 'go')
  const config = home.writeConfig({
    servers: [
      fixtureServer('idle', 'http-server.mjs', port),
      fixtureServer('burst', 'log-writer.mjs', undefined, {
        env: { LW_MODE: 'burst', LW_LINES: '1000', LW_STDERR_EVERY: '10', LW_GO: go },
      }),
    ],
  })
  await startOk(home, config)
  await sleep(1000)
  fs.writeFileSync(go, '')
  const burst = () =>
    home
      .readLog('backend-unified.log')
      .split('\n')
      .filter((l) => l.startsWith('burst-0 '))
  await waitFor(() => burst().length >= 1100, 60_000, 'the 1000 stdout and 100 stderr lines in the unified log')
  assertBurst(burst())
})
