// The unified log reads when its files change (file-change notifications), not on a fast timer: with the safety
// poll pushed out of reach, a burst a real process writes still lands, every line once and in order.
import { test } from 'node:test'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveHome } from '../../lib/core/home.ts'
import { processLogPath, stderrLogPath, unifiedLogPath } from '../../lib/logs/paths.ts'
import { UnifiedLog } from '../../lib/logs/unified.ts'
import { assertBurst, fixture, pidGone, waitFor } from '../helpers.ts'

const HOUR_MS = 3_600_000

test('unified log: a burst of 1000 lines a process writes lands on the notifications alone, once each, in order', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-logs-wake-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  const home = resolveHome({}, root, root)
  fs.mkdirSync(home.logs, { recursive: true })
  const [out, err] = [processLogPath(home, 'burst-0'), stderrLogPath(home, 'burst-0')]
  const go = path.join(root, 'go')
  const log = new UnifiedLog(home)
  log.follow('burst-0', out, { stderrFile: err })
  log.watch(HOUR_MS)
  t.after(() => log.close())
  const fds = [fs.openSync(out, 'a'), fs.openSync(err, 'a')]
  const writer = spawn(process.execPath, [fixture('log-writer.mjs')], {
    stdio: ['ignore', fds[0], fds[1]],
    env: { ...process.env, SERVER_NAME: 'burst', LW_MODE: 'burst', LW_LINES: '1000', LW_STDERR_EVERY: '10', LW_GO: go },
  })
  for (const fd of fds) fs.closeSync(fd)
  t.after(() => {
    if (!pidGone(writer.pid!)) process.kill(writer.pid!, 'SIGKILL')
  })
  // Nothing written yet: the first read (at watch) is long done, and the next safety poll is an hour away.
  await waitFor(() => fs.existsSync(unifiedLogPath(home)), 10_000, 'the unified log to exist')
  fs.writeFileSync(go, '')
  const unified = () => fs.readFileSync(unifiedLogPath(home), 'utf8').split('\n').filter(Boolean)
  await waitFor(() => unified().length >= 1100, 60_000, 'the 1000 stdout and 100 stderr lines in the unified log')
  assertBurst(unified())
})
