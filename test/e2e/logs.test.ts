// End-to-end logging: real processes writing through a real stack, read back through the real CLI.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import {
  fixture,
  freePorts,
  httpGet,
  pidAlive,
  sleep,
  useHome,
  waitFor,
  type ServerYaml,
  type TestHome,
} from '../helpers.ts'

const WRITER = `node ${fixture('log-writer.mjs')}`
const PAYLOAD = 'x'.repeat(48)
const UNIFIED = 'backend-unified.log'
// A whole unified-log line: the id padded to 20 characters, then the stream mark.
const UNIFIED_LINE = /^([a-z0-9_-]+) {0,19}(>>|!>) (.*)$/

function writer(name: string, env: Record<string, string>, extra: Partial<ServerYaml> = {}): ServerYaml {
  return { name, command: WRITER, health: 'none', stop_timeout: 1, env, ...extra }
}

async function startStack(home: TestHome, config: Parameters<TestHome['writeConfig']>[0]): Promise<void> {
  const file = home.writeConfig(config)
  const r = await home.cli(['start', file])
  assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr}\n${home.readLog('supervisor.log')}`)
  // The detached supervisor has taken over: from here on it alone writes the unified log.
  await waitFor(() => /all processes ready/.test(home.readLog('supervisor.log')), 20_000, 'the supervisor to take over')
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '')
const countLines = (text: string) => {
  let n = 0
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++
  return n
}

// The unified log taken apart: per id, its stdout and stderr texts in order.
function unifiedById(home: TestHome): Map<string, { out: string[]; err: string[]; all: string[] }> {
  const byId = new Map<string, { out: string[]; err: string[]; all: string[] }>()
  for (const line of lines(home.readLog(UNIFIED))) {
    const m = UNIFIED_LINE.exec(line)
    assert.ok(m && line.indexOf('>') >= 20, `malformed unified line: ${JSON.stringify(line)}`)
    // The supervisor's own lines (spawn, ready, exit) are events, not process output.
    if (m[1] === 'supervisor') continue
    const entry = byId.get(m[1]) ?? { out: [], err: [], all: [] }
    ;(m[2] === '!>' ? entry.err : entry.out).push(m[3])
    entry.all.push(line)
    byId.set(m[1], entry)
  }
  return byId
}

// Every line a burst writer printed, each exactly once and whole, in a raw file and in the unified log.
function assertBurstComplete(home: TestHome, ids: string[], perId: number, stderrEvery: number): void {
  const stderrLines = Math.ceil(perId / stderrEvery)
  const unified = unifiedById(home)
  for (const id of ids) {
    const wantOut = Array.from({ length: perId }, (_, i) => `${id} out ${i} ${PAYLOAD}`)
    const wantErr = Array.from({ length: stderrLines }, (_, i) => `${id} err ${i * stderrEvery} ${PAYLOAD}`)
    const raw = lines(home.readLog(`${id}.log`))
    assert.equal(raw.length, perId + stderrLines, `${id}.log line count`)
    assert.deepEqual(
      raw.filter((l) => l.includes(' out ')),
      wantOut,
      `${id}.log holds every stdout line once, in order`,
    )
    assert.deepEqual(
      raw.filter((l) => l.includes(' err ')),
      wantErr,
      `${id}.log holds every stderr line once, in order`,
    )
    assert.deepEqual(lines(home.readLog(`${id}.stderr.log`)), wantErr, `${id}.stderr.log is the raw stderr`)
    const u = unified.get(id)
    assert.ok(u, `no unified lines for ${id}`)
    assert.deepEqual(u.out, wantOut, `unified stdout lines of ${id}: each once, whole, in order`)
    assert.deepEqual(u.err, wantErr, `unified stderr lines of ${id}: each once, whole, marked !>`)
  }
  assert.equal(
    [...unified.values()].reduce((n, u) => n + u.all.length, 0),
    ids.length * (perId + stderrLines),
    'nothing else in the unified log',
  )
}

test('unified log: prefix format, stderr marked, colours and progress cleaned, a partial last line kept; logs NAME filters', async (t) => {
  const home = useHome(t, 'bm-logs-e2e-')
  const go = path.join(home.root, 'go')
  await startStack(home, {
    servers: [
      writer('demo', { LW_MODE: 'demo', LW_GO: go }, { restart: 'no' }),
      writer('api', { LW_MODE: 'tick', LW_TICK_MS: '20' }, { instances: 2 }),
    ],
  })
  // The supervisor copies stderr lines into demo-0.log; let it before the unfinished last stdout line is printed.
  await waitFor(
    () => home.readLog('demo-0.log').includes('error\x1b[0m from demo-0\n'),
    10_000,
    'the stderr lines in demo-0.log',
  )
  fs.writeFileSync(go, '')
  await waitFor(() => home.readLog(UNIFIED).includes('last words'), 10_000, 'the demo writer to exit')
  const demo = unifiedById(home).get('demo-0')!
  assert.deepEqual(demo.out, [
    'hello from demo-0',
    'green and plain',
    'progress 100%',
    'multibyte: héllo wörld ✓ 日本',
    'last words from demo-0 without newline',
  ])
  assert.deepEqual(demo.err, ['warning from demo-0', 'error from demo-0'])
  assert.equal(demo.all[0], 'demo-0              >> hello from demo-0')
  assert.ok(demo.all.includes('demo-0              !> warning from demo-0'), demo.all.join('\n'))
  const unified = home.readLog(UNIFIED)
  assert.ok(
    !unified.includes('\x1b') && !unified.includes('\r'),
    'no escape codes or carriage returns in the unified log',
  )
  // The process's own file is raw: colours and progress as printed, stderr lines too, the last line unterminated.
  const raw = home.readLog('demo-0.log')
  assert.ok(raw.includes('\x1b[1;32mgreen') && raw.includes('progress 10%\rprogress 50%\r'), raw)
  assert.ok(raw.includes('warning from demo-0\n') && raw.includes('\x1b[31merror\x1b[0m from demo-0\n'), raw)
  assert.ok(raw.endsWith('last words from demo-0 without newline'), raw)
  assert.equal(home.readLog('demo-0.stderr.log'), 'warning from demo-0\n\x1b[31merror\x1b[0m from demo-0\n')

  const all = await home.cli(['logs', 'demo'])
  assert.equal(all.code, 0, all.stderr)
  assert.equal(all.stderr, '')
  assert.deepEqual(lines(all.stdout), demo.all)
  const two = await home.cli(['logs', 'demo-0', '-n', '2'])
  assert.deepEqual(lines(two.stdout), demo.all.slice(-2))
  const api = await home.cli(['logs', 'api', '-n', '6'])
  assert.equal(lines(api.stdout).length, 6)
  assert.ok(
    lines(api.stdout).every((l) => /^api-[01] {15}>> tick \d+ x+$/.test(l)),
    api.stdout,
  )
  const three = await home.cli(['logs', '-n', '3'])
  assert.equal(countLines(three.stdout), 3, 'stdout carries exactly the lines asked for')
  const unknown = await home.cli(['logs', 'nope'])
  assert.equal(unknown.code, 2)
  assert.equal(unknown.stdout, '')
  assert.match(unknown.stderr, /unknown name "nope".*server \(api, demo\).*instance \(api-0, api-1, demo-0\)/)
  assert.equal((await home.cli(['logs', '-n', 'many'])).code, 2)
})

test('burst: 8 processes x 20,000 lines, every line exactly once and whole in every file', async (t) => {
  const home = useHome(t, 'bm-logs-e2e-')
  const go = path.join(home.root, 'go')
  const done = fs.mkdtempSync(path.join(home.root, 'done-'))
  const ids = Array.from({ length: 8 }, (_, i) => `burst-${i}`)
  await startStack(home, {
    logs: { max_size: 0 },
    servers: [
      writer(
        'burst',
        { LW_MODE: 'burst', LW_LINES: '20000', LW_STDERR_EVERY: '100', LW_GO: go, LW_DONE: done },
        { instances: 8 },
      ),
    ],
  })
  fs.writeFileSync(go, '')
  const total = 8 * (20_000 + 200)
  await waitFor(
    () => fs.readdirSync(done).length === 8 && countLines(home.readLog(UNIFIED)) >= total,
    60_000,
    'every line in the unified log',
  )
  assertBurstComplete(home, ids, 20_000, 100)
})

const ADOPTED_CATCH_UP =
  'supervisor SIGKILLed mid-burst: the processes keep writing their files' +
  ', a new start re-adopts them and the unified log catches up exactly'
test(ADOPTED_CATCH_UP, async (t) => {
  const home = useHome(t, 'bm-logs-e2e-')
  const go = path.join(home.root, 'go')
  const done = fs.mkdtempSync(path.join(home.root, 'done-'))
  const ids = Array.from({ length: 4 }, (_, i) => `burst-${i}`)
  const config = {
    logs: { max_size: 0 },
    servers: [
      writer(
        'burst',
        { LW_MODE: 'burst', LW_LINES: '20000', LW_STDERR_EVERY: '100', LW_PACE: '10', LW_GO: go, LW_DONE: done },
        { instances: 4 },
      ),
    ],
  }
  await startStack(home, config)
  const before = home.state()!
  fs.writeFileSync(go, '')
  await waitFor(() => countLines(home.readLog(UNIFIED)) > 2000, 20_000, 'the burst to reach the unified log')
  process.kill(before.supervisor.pid, 'SIGKILL')
  const atKill = fs.readdirSync(done).length
  assert.ok(atKill < 4, 'the supervisor died while the writers were still writing')
  await waitFor(() => !pidAlive(before.supervisor.pid), 5000, 'the supervisor to die')
  // Nothing reads the files now, yet every line reaches them.
  await waitFor(() => fs.readdirSync(done).length === 4, 60_000, 'the writers to finish without a supervisor')
  for (const id of ids) assert.equal(lines(home.readLog(`${id}.stderr.log`)).length, 200)
  const behind = countLines(home.readLog(UNIFIED))
  assert.ok(behind < 4 * 20_200, 'the unified log is behind while no supervisor runs')
  const note = await home.cli(['logs', '-n', '1'])
  assert.match(note.stderr, /supervisor .* is not running/)
  assert.equal(countLines(note.stdout), 1)

  await startStack(home, config)
  const after = home.state()!
  assert.deepEqual(
    after.processes.map((p) => p.pid),
    before.processes.map((p) => p.pid),
    'the same processes, adopted',
  )
  await waitFor(() => countLines(home.readLog(UNIFIED)) >= 4 * 20_200, 30_000, 'the unified log to catch up')
  await sleep(300)
  assertBurstComplete(home, ids, 20_000, 100)
})

// Tick numbers of the lines of one process, from unified-log lines or raw lines.
function ticks(text: string[]): number[] {
  return text
    .map((l) => /tick (\d+) x+$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]))
}

// Numbers from lo to hi (inclusive) that are not in the list.
function missing(numbers: number[], lo: number, hi: number): number[] {
  const have = new Set(numbers)
  const out: number[] = []
  for (let n = lo; n <= hi; n++) if (!have.has(n)) out.push(n)
  return out
}

test('logs clean while running, and logs -f following across the clean and across rotations', async (t) => {
  const home = useHome(t, 'bm-logs-e2e-')
  await startStack(home, {
    logs: { max_size: 40_000, keep: 2 },
    servers: [writer('tick', { LW_MODE: 'tick', LW_TICK_MS: '5', LW_BATCH: '4', LW_STDERR_EVERY: '9' })],
  })
  const follower = home.spawnCli(['logs', '-f', '-n', '0'])
  const followed = () => lines(follower.output().stdout)
  await waitFor(() => followed().length > 300, 10_000, 'logs -f to show lines')

  const clean = await home.cli(['logs', 'clean'])
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stdout, /^cleaned \d+ log files in /)
  // Truncated in place: the files are still there, and the next lines start at the top, whole, without holes.
  await waitFor(() => home.readLog('tick-0.log').includes('\n'), 5000, 'a line after the clean')
  const raw = fs.readFileSync(home.logFile('tick-0.log'))
  assert.ok(raw.length < 40_000, `tick-0.log was not truncated (${raw.length} bytes)`)
  assert.equal(raw.indexOf(0), -1, 'no NUL bytes in tick-0.log')
  assert.match(raw.toString(), /^(tick \d+ x{48}\n)+(tick \d+ x*)?$/)
  assert.ok(fs.existsSync(home.logFile('tick-0.stderr.log')) && fs.existsSync(home.logFile(UNIFIED)))
  // The first line printed after the clean: everything from it on must reach logs -f.
  const firstAfter = Math.min(...ticks(lines(raw.toString())), ...ticks(lines(home.readLog('tick-0.stderr.log'))))

  await waitFor(
    () => fs.existsSync(home.logFile(`${UNIFIED}.1`)) && fs.existsSync(home.logFile('tick-0.log.1')),
    20_000,
    'rotations after the clean',
  )
  const rotatedAt = Math.max(...ticks(lines(home.readLog(UNIFIED))))
  await waitFor(() => Math.max(...ticks(followed())) > rotatedAt + 300, 10_000, 'logs -f to keep up after the rotation')
  process.kill(-follower.child.pid!, 'SIGTERM')
  const result = await follower.done
  assert.equal(result.stderr, '')

  // The supervisor's events (it adopting the writer) are lines of their own.
  const shown = followed().filter((l) => !/^supervisor {10}>> /.test(l))
  assert.deepEqual(
    shown.filter((l) => !/^tick-0 {14}(>>|!>) tick \d+ x{48}$/.test(l)),
    [],
    'every followed line whole',
  )
  const numbers = ticks(shown)
  assert.equal(new Set(numbers).size, numbers.length, 'no line shown twice')
  // Stderr lines trail stdout by a poll or two, so the very last ones may not be shown yet.
  const last = Math.max(...numbers) - 100
  assert.ok(last > rotatedAt, 'logs -f followed past the rotation')
  assert.deepEqual(
    missing(numbers, firstAfter, last),
    [],
    'every line printed after the clean was shown, across the rotations',
  )

  // With the stack stopped, what the files and their rotated copies hold is the newest part of the stream, complete.
  assert.equal((await home.cli(['stop'])).code, 0)
  for (const name of [UNIFIED, 'tick-0.log']) {
    assert.equal(fs.existsSync(home.logFile(`${name}.3`)), false, `${name}.3 is not kept (keep: 2)`)
    const kept = ticks([2, 1].flatMap((n) => lines(home.readLog(`${name}.${n}`))).concat(lines(home.readLog(name))))
    assert.equal(new Set(kept).size, kept.length, `no line twice across ${name} and its rotated copies`)
    // The oldest copy may start with a few stderr lines older than its first stdout line.
    assert.deepEqual(
      missing(kept, Math.min(...kept) + 100, Math.max(...kept)),
      [],
      `no line lost across ${name} and its rotated copies`,
    )
  }
})

async function nginxUnavailable(home: TestHome): Promise<string | undefined> {
  const check = await home.cli(['check-nginx'])
  if (check.code !== 0) return `no usable nginx (check-nginx: ${check.stdout}${check.stderr})`
  return undefined
}

test('logs nginx: a request made through the proxy shows in the access log', async (t) => {
  const home = useHome(t, 'bm-logs-e2e-')
  const why = await nginxUnavailable(home)
  if (why) {
    console.log(`skipping logs nginx: ${why}`)
    t.skip(why)
    return
  }
  const base = await freePorts(2)
  await startStack(home, {
    proxy: { type: 'nginx', host: '127.0.0.1', port: base + 1 },
    servers: [
      { name: 'web', command: `node ${fixture('http-server.mjs')}`, port: base, health: '/health', stop_timeout: 1 },
    ],
  })
  const uri = `/logs-e2e-${process.pid}-${Date.now()}`
  assert.equal((await httpGet(`http://127.0.0.1:${base + 1}${uri}`)).status, 200)
  // nginx flushes its buffered access log every second.
  const shown = await waitFor(
    async () => {
      const r = await home.cli(['logs', 'nginx', '-n', '20'])
      return r.stdout.includes(uri) ? r : undefined
    },
    10_000,
    'the request in logs nginx',
  )
  const entry = lines(shown.stdout).find((l) => l.includes(uri))!
  assert.equal(JSON.parse(entry).uri, uri)
  assert.equal(JSON.parse(entry).status, 200)
})
