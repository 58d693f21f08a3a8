// max_memory end to end: a real supervisor and real processes holding real memory. One that stays above its limit
// is restarted with the reason in the log and in status; one below it is left alone.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { fixtureServer, startOk, useHome, waitFor } from '../helpers.ts'

const home = useHome({ after }, 'bm-max-memory-')

test('an instance whose memory stays above max_memory is restarted, with why; one below it is not', async () => {
  const config = home.writeConfig({
    servers: [
      fixtureServer('hog', 'hog.mjs', undefined, { env: { HOG_MB: '160' }, max_memory: '100M' }),
      fixtureServer('lean', 'hog.mjs', undefined, { env: { HOG_MB: '1' }, max_memory: '100M' }),
    ],
  })
  await startOk(home, config)
  const hog = home.record('hog-0').pid
  const lean = home.record('lean-0').pid
  const restarted = /^hog-0 restarting pid (\d+): memory (\d+(?:\.\d)?)M > 100M \(max_memory, 3 samples in a row\)$/
  const line = await waitFor(() => home.supervisorLines().find((l) => restarted.test(l)), 60_000, 'hog-0 restarted')
  const [, pid, megabytes] = restarted.exec(line)!
  assert.equal(Number(pid), hog)
  assert.ok(Number(megabytes) > 160, line)
  await waitFor(() => home.record('hog-0').pid !== hog && home.record('hog-0').state === 'running', 30_000)
  const r = await home.cli(['status', '--json'])
  const rows = JSON.parse(r.stdout).processes as any[]
  const hogRow = rows.find((p) => p.id === 'hog-0')
  assert.match(hogRow.restartReason, /^memory \d+(\.\d)?M > 100M \(max_memory, 3 samples in a row\)$/)
  assert.ok(hogRow.restarts >= 1)
  const text = await home.cli(['status'])
  assert.match(text.stdout, /^hog-0 .* \(last restarted: memory \d+(\.\d)?M > 100M /m)
  // The same samples found lean under its limit every time.
  assert.equal(home.record('lean-0').pid, lean)
  assert.equal(home.record('lean-0').restarts, 0)
  assert.equal(
    home.supervisorLines().find((l) => /^lean-0 restarting/.test(l)),
    undefined,
  )
})
