// A damaged run/log-offsets.json (the supervisor killed, the file emptied, garbled or edited): a start
// that re-adopts the stack goes on from the end of each file, says so, and never reads a file again from 0.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { commandLine, environValue, fixture, pidGone, useHome, waitFor, type TestHome } from '../helpers.ts'

const UNIFIED_LINE = /^([a-z0-9_-]+) {0,19}(>>|!>) (.*)$/
const STDERR_EVERY = 4
const NOTICE = /log-offsets\.json was damaged/

// Each tick line once at most, stdout lines marked >> and stderr lines !>, nothing torn; returns how many.
function checkUnified(home: TestHome): number {
  const seen = new Set<string>()
  let ticks = 0
  for (const line of home.readLog('backend-unified.log').split('\n').slice(0, -1)) {
    const m = UNIFIED_LINE.exec(line)
    assert.ok(m, `malformed unified line: ${JSON.stringify(line)}`)
    // The supervisor's stderr line is the notice; its stdout lines are events (spawn, ready, exit).
    if (m[1] === 'supervisor') {
      if (m[2] === '!>') assert.match(m[3], NOTICE)
      continue
    }
    const tick = /^tick (\d+) x{48}$/.exec(m[3])
    assert.ok(m[1] === 'talk-0' && tick, `unexpected unified line: ${JSON.stringify(line)}`)
    assert.ok(!seen.has(m[3]), `line read twice: ${JSON.stringify(line)}`)
    seen.add(m[3])
    assert.equal(m[2], Number(tick[1]) % STDERR_EVERY === 0 ? '!>' : '>>', `stream mark of ${JSON.stringify(line)}`)
    ticks++
  }
  return ticks
}

// The supervisor of this home, checked to be the one this test started before it is killed.
function killSupervisor(home: TestHome): void {
  const pid = home.state()!.supervisor.pid
  assert.ok(
    pid > 1 && / supervise$/.test(commandLine(pid)) && environValue(pid, 'BACKEND_MANAGER_HOME') === home.root,
    `pid ${pid} is this test's supervisor`,
  )
  process.kill(pid, 'SIGKILL')
}

const damages: [string, (valid: string) => string][] = [
  ['empty', () => ''],
  ['garbage', () => '{"version": 2, "sourc\u0000\u0007 garbage'],
  ['null', () => 'null'],
  [
    'a negative offset',
    (valid) => {
      const state = JSON.parse(valid)
      for (const source of Object.values<any>(state.sources)) source.out.offset = -4096
      return JSON.stringify(state)
    },
  ],
  [
    'non-number fields',
    (valid) => {
      const state = JSON.parse(valid)
      for (const source of Object.values<any>(state.sources))
        Object.assign(source.out, { offset: '12' }, source.err && { err: { ...source.err, offset: null } })
      return JSON.stringify(state)
    },
  ],
]

const DAMAGED_OFFSETS =
  'a damaged log-offsets.json: a re-adopting start' +
  ' goes on from the end of each file, with a notice; no line twice, no crash'
test(DAMAGED_OFFSETS, async (t) => {
  const home = useHome(t, 'bm-offsets-e2e-')
  const config = home.writeConfig({
    servers: [
      {
        name: 'talk',
        command: `node ${fixture('log-writer.mjs')}`,
        health: 'none',
        stop_timeout: 1,
        env: { LW_MODE: 'tick', LW_TICK_MS: '5', LW_BATCH: '4', LW_STDERR_EVERY: String(STDERR_EVERY) },
      },
    ],
  })
  const first = await home.cli(['start', config])
  assert.equal(first.code, 0, `start:\n${first.stdout}\n${first.stderr}`)
  const server = home.record('talk-0')
  await waitFor(() => checkUnified(home) > 200, 30_000, 'lines in the unified log')
  const offsets = path.join(home.root, 'run', 'log-offsets.json')
  for (const [what, damage] of damages) {
    await waitFor(
      () => /all processes ready/.test(home.readLog('supervisor.log').split('taking over').at(-1)!),
      30_000,
      'the supervisor to take over',
    )
    const supervisor = home.state()!.supervisor
    killSupervisor(home)
    await waitFor(() => pidGone(supervisor.pid, supervisor.startTime), 10_000, 'the supervisor to die')
    fs.writeFileSync(offsets, damage(fs.readFileSync(offsets, 'utf8')))
    const before = checkUnified(home)
    const again = await home.cli(['start', config])
    assert.equal(again.code, 0, `start after the offsets were damaged (${what}):\n${again.stdout}\n${again.stderr}`)
    assert.match(again.stdout, /adopted|ready/)
    assert.doesNotMatch(again.stderr + home.readLog('supervisor.log'), /RangeError/)
    assert.equal(home.record('talk-0').pid, server.pid, 'the server was adopted, not started again')
    await waitFor(
      async () => {
        const r = await home.cli(['status', '--json'])
        return JSON.parse(r.stdout).processes.find((p: { id: string }) => p.id === 'supervisor')?.state === 'running'
      },
      30_000,
      `a supervisor running after the offsets were damaged (${what})`,
    )
    await waitFor(
      () => checkUnified(home) > before + 100,
      30_000,
      `new lines in the unified log after the offsets were damaged (${what})`,
    )
  }
  assert.equal(
    home
      .readLog('backend-unified.log')
      .split('\n')
      .filter((l) => NOTICE.test(l)).length,
    damages.length,
    'one notice per damaged file',
  )
  assert.ok(checkUnified(home) > 0)
})
