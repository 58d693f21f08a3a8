import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveHome, type Home } from '../../lib/core/home.ts'
import { truncateLogFiles } from '../../lib/logs/clean.ts'
import { FileFollower, FollowSet, followFiles } from '../../lib/logs/follow.ts'
import {
  cleanLine,
  formatLines,
  linePrefix,
  parseLine,
  prefixLine,
  serverOf,
  utf8Boundary,
} from '../../lib/logs/line.ts'
import { cutCopy, MAX_LINE } from '../../lib/logs/source.ts'
import {
  beginTruncation,
  endTruncation,
  parseLogState,
  readLogState,
  type TruncationFiles,
} from '../../lib/logs/offsets.ts'
import { copyTruncate } from '../../lib/logs/rotate.ts'
import { UnifiedLog } from '../../lib/logs/unified.ts'
import { offsetsPath, processLogPath, stderrLogPath, unifiedLogPath } from '../../lib/logs/paths.ts'
import { tailFile, tailLines } from '../../lib/logs/tail.ts'
import { fixture, repoRoot, sleep, waitFor } from '../helpers.ts'

function tempHome(t: { after(fn: () => void): void }): Home {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-logs-unit-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  const home = resolveHome({}, root, root)
  fs.mkdirSync(home.logs, { recursive: true })
  return home
}

const append = (file: string, text: string | Buffer) => fs.appendFileSync(file, text)
const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')
const linesOf = (file: string) =>
  read(file)
    .split('\n')
    .filter((l) => l !== '')

// A process's two files, followed by a unified log the way the supervisor does it.
function source(home: Home, id: string) {
  const out = processLogPath(home, id)
  const err = stderrLogPath(home, id)
  fs.writeFileSync(out, '')
  fs.writeFileSync(err, '')
  return { id, out, err }
}

test('prefix: the name padded to 20, ">>" for stdout and "!>" for stderr, same width', () => {
  assert.equal(prefixLine('api-0', 'hello'), 'api-0               >> hello')
  assert.equal(prefixLine('api-0', 'boom', 'err'), 'api-0               !> boom')
  assert.equal(prefixLine('api-0', '').length, prefixLine('api-0', '', 'err').length)
  assert.equal(prefixLine('a-very-long-server-name-0', 'x'), 'a-very-long-server-name-0>> x')
  assert.deepEqual(parseLine('api-0               !> boom >> not a marker'), {
    id: 'api-0',
    stream: 'err',
    text: 'boom >> not a marker',
  })
  assert.deepEqual(parseLine('a-very-long-server-name-0>> x'), {
    id: 'a-very-long-server-name-0',
    stream: 'out',
    text: 'x',
  })
  assert.equal(parseLine('no prefix here'), undefined)
  assert.equal(serverOf('data-feed-12'), 'data-feed')
  assert.equal(serverOf('nginx'), 'nginx')
})

const cleanCases: [string, string, string][] = [
  ['plain text', 'hello', 'hello'],
  ['colours', '\x1b[1;32mgreen\x1b[0m text', 'green text'],
  ['256 colours and cursor', '\x1b[38;5;208morange\x1b[K\x1b[?25l', 'orange'],
  ['a window title (OSC)', '\x1b]0;title\x07after', 'after'],
  ['an OSC 8 link', '\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\', 'link'],
  ['progress keeps the final state', 'progress 10%\rprogress 50%\rprogress 100%', 'progress 100%'],
  ['CRLF line ending', 'windows line\r', 'windows line'],
  ['progress then CRLF', '10%\r100%\r\r', '100%'],
  ['colour inside progress', '\x1b[33m10%\x1b[0m\r\x1b[32mdone\x1b[0m', 'done'],
  ['multibyte is untouched', 'héllo wörld ✓ 日本', 'héllo wörld ✓ 日本'],
]
for (const [name, raw, want] of cleanCases) test(`cleanLine: ${name}`, () => assert.equal(cleanLine(raw), want))

test('formatLines: plain lines byte for byte, escapes cleaned, counts lines', () => {
  const prefix = linePrefix('w-0', 'out')
  const plain = formatLines(prefix, Buffer.from('a\nb\n'))
  assert.equal(plain.data.toString(), 'w-0                 >> a\nw-0                 >> b\n')
  assert.equal(plain.count, 2)
  const mixed = formatLines(linePrefix('w-0', 'err'), Buffer.from('\x1b[31mred\x1b[0m\nplain\n50%\r100%\n'))
  assert.equal(
    mixed.data.toString(),
    'w-0                 !> red\nw-0                 !> plain\nw-0                 !> 100%\n',
  )
  assert.equal(formatLines(prefix, Buffer.from('no newline')).data.toString(), 'w-0                 >> no newline\n')
})

test('cutCopy: whole lines only, everything once the process has exited, long lines cut at a character', () => {
  assert.equal(cutCopy(Buffer.from('partial'), false), undefined)
  assert.deepEqual(cutCopy(Buffer.from('one\ntwo'), false), { bytes: Buffer.from('one\n'), rest: Buffer.from('two') })
  assert.deepEqual(cutCopy(Buffer.from('one\ntwo'), true), { bytes: Buffer.from('one\ntwo\n'), rest: Buffer.alloc(0) })
  const long = Buffer.concat([Buffer.alloc(MAX_LINE - 1, 'a'), Buffer.from('✓✓')])
  const cut = cutCopy(long, false)!
  assert.equal(cut.bytes.length, MAX_LINE)
  assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(cut.bytes.subarray(0, -1)))
  assert.equal(utf8Boundary(Buffer.from('a✓'), 2), 1)
})

test('unified log: stdout and stderr prefixed, stderr copied into the process log, partial line waits for its newline', (t) => {
  const home = tempHome(t)
  const a = source(home, 'api-0')
  const log = new UnifiedLog(home)
  log.follow(a.id, a.out, { stderrFile: a.err })
  append(a.out, 'first\nsecond, ')
  append(a.err, 'oops\n')
  log.poll()
  // The stdout line is unfinished: the stderr line waits instead of landing inside it.
  assert.equal(read(a.out), 'first\nsecond, ')
  append(a.out, 'finished\n')
  log.poll()
  assert.equal(read(a.out), 'first\nsecond, finished\noops\n')
  assert.deepEqual(linesOf(unifiedLogPath(home)), [
    'api-0               >> first',
    'api-0               >> second, finished',
    'api-0               !> oops',
  ])
  append(a.out, 'last words')
  log.poll()
  assert.equal(linesOf(unifiedLogPath(home)).length, 3)
  log.flush(a.out)
  assert.equal(linesOf(unifiedLogPath(home)).at(-1), 'api-0               >> last words')
  log.close()
})

test('unified log: a stderr line copied into an unfinished stdout line (after waiting) still comes out whole on both sides', async (t) => {
  const home = tempHome(t)
  const a = source(home, 'w-0')
  const log = new UnifiedLog(home)
  log.follow(a.id, a.out, { stderrFile: a.err })
  append(a.out, 'progress: ')
  append(a.err, 'warning\n')
  log.poll()
  await sleep(1050)
  log.poll()
  append(a.out, 'done\n')
  log.poll()
  assert.equal(read(a.out), 'progress: warning\ndone\n')
  assert.deepEqual(linesOf(unifiedLogPath(home)), [
    'w-0                 !> warning',
    'w-0                 >> progress: done',
  ])
  log.close()
})

test('unified log: a multibyte character split across two writes and two polls stays whole', (t) => {
  const home = tempHome(t)
  const a = source(home, 'w-0')
  const log = new UnifiedLog(home)
  log.follow(a.id, a.out)
  const bytes = Buffer.from('snow ☃ and 日本\n')
  append(a.out, bytes.subarray(0, 6))
  log.poll()
  append(a.out, bytes.subarray(6))
  log.poll()
  log.close()
  assert.deepEqual(linesOf(unifiedLogPath(home)), ['w-0                 >> snow ☃ and 日本'])
})

test('unified log: a new writer continues from the saved offsets; a truncated file is read again from its start', (t) => {
  const home = tempHome(t)
  const a = source(home, 'w-0')
  const first = new UnifiedLog(home)
  first.follow(a.id, a.out, { stderrFile: a.err })
  append(a.out, 'one\n')
  append(a.err, 'e1\n')
  first.poll()
  first.close()
  append(a.out, 'two\n')
  const second = new UnifiedLog(home)
  second.follow(a.id, a.out, { stderrFile: a.err, fromEnd: true })
  second.poll()
  fs.truncateSync(a.out, 0)
  append(a.out, 'three\n')
  second.poll()
  second.close()
  assert.deepEqual(linesOf(unifiedLogPath(home)), [
    'w-0                 >> one',
    'w-0                 !> e1',
    'w-0                 >> two',
    'w-0                 >> three',
  ])
})

test('unified log: a last write that did not (fully) happen is undone and done again', (t) => {
  const home = tempHome(t)
  const a = source(home, 'w-0')
  const log = new UnifiedLog(home)
  log.follow(a.id, a.out, { stderrFile: a.err })
  append(a.out, 'one\n')
  log.poll()
  append(a.out, 'two\nthree\n')
  append(a.err, 'err\n')
  log.poll()
  const complete = read(unifiedLogPath(home))
  const saved = read(offsetsPath(home))
  const pending = readLogState(home).pending!
  assert.ok(pending && pending.after === complete.length, 'the last write is recorded as pending until the next commit')
  // As if killed halfway through the write, and again as if killed before it.
  for (const cut of [pending.before + 7, pending.before]) {
    fs.writeFileSync(offsetsPath(home), saved)
    fs.truncateSync(unifiedLogPath(home), cut)
    const again = new UnifiedLog(home)
    again.follow(a.id, a.out, { stderrFile: a.err })
    again.poll()
    again.close()
    assert.equal(read(unifiedLogPath(home)), complete)
  }
  assert.equal(linesOf(a.out).filter((l) => l === 'err').length, 1)
})

test('unified log: SIGKILLed again and again while files grow, every line lands exactly once', async (t) => {
  const home = tempHome(t)
  const sources = [source(home, 'a-0'), source(home, 'b-0')]
  const args = [
    '--import',
    'tsx',
    fixture('unified-poller.ts'),
    home.root,
    ...sources.map((s) => `${s.id}:${s.out}:${s.err}`),
  ]
  let poller: ReturnType<typeof spawn> | undefined
  t.after(() => poller?.kill('SIGKILL'))
  const startPoller = async () => {
    poller = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve) => poller!.stdout!.once('data', () => resolve()))
  }
  const total = 6000
  let written = 0
  await startPoller()
  for (let kill = 0; kill < 8; kill++) {
    for (const end = written + total / 8; written < end; written++) {
      for (const s of sources) {
        append(s.out, `${s.id} out ${written}\n`)
        if (written % 5 === 0) append(s.err, `${s.id} err ${written}\n`)
      }
      if (written % 50 === 0) await sleep(1)
    }
    poller!.kill('SIGKILL')
    await new Promise((resolve) => poller!.once('exit', resolve))
    await startPoller()
  }
  poller!.kill('SIGKILL')
  await new Promise((resolve) => poller!.once('exit', resolve))
  const last = new UnifiedLog(home, { max_size: 0, keep: 1 })
  for (const s of sources) last.follow(s.id, s.out, { stderrFile: s.err })
  last.poll()
  last.close()
  const unified = linesOf(unifiedLogPath(home))
  for (const s of sources) {
    const want = [...Array(total).keys()].flatMap((i) => [
      `${s.id} out ${i}`,
      ...(i % 5 === 0 ? [`${s.id} err ${i}`] : []),
    ])
    const own = linesOf(s.out)
    assert.deepEqual([...own].sort(), [...want].sort(), `${s.out} holds every stdout and stderr line exactly once`)
    const mine = unified.filter((l) => l.startsWith(s.id)).map((l) => parseLine(l)!)
    assert.deepEqual(mine.map((p) => p.text).sort(), [...want].sort(), 'the unified log holds every line exactly once')
    assert.ok(
      mine.every((p) => (p.stream === 'err') === p.text.includes(' err ')),
      'stderr lines are marked as stderr',
    )
  }
  assert.equal(unified.length, sources.length * (total + total / 5))
})

test('unified log: clean truncates every file in place; the next lines start at offset 0', (t) => {
  const home = tempHome(t)
  const a = source(home, 'w-0')
  const log = new UnifiedLog(home)
  log.follow(a.id, a.out, { stderrFile: a.err })
  append(a.out, 'before\nhalf')
  append(a.err, 'err before\n')
  log.poll()
  fs.writeFileSync(`${a.out}.1`, 'old rotated copy\n')
  const cleaned = log.clean()
  assert.ok(cleaned >= 3)
  assert.equal(fs.existsSync(`${a.out}.1`), false, 'rotated copies are removed')
  append(a.out, 'after\n')
  log.poll()
  log.close()
  assert.equal(read(a.out), 'after\n')
  assert.deepEqual(linesOf(unifiedLogPath(home)), ['w-0                 >> after'])
  assert.equal(readLogState(home).sources[a.out].out.offset, 'after\n'.length)
})

test('unified log: rotation by size keeps `keep` copies of every file, with no line lost or repeated', (t) => {
  const home = tempHome(t)
  const a = source(home, 'w-0')
  const log = new UnifiedLog(home, { max_size: 2000, keep: 2 })
  log.follow(a.id, a.out, { stderrFile: a.err })
  for (let i = 0; i < 1500; i++) {
    append(a.out, `line ${i}\n`)
    if (i % 3 === 0) append(a.err, `err ${i}\n`)
    if (i % 20 === 19) log.poll()
  }
  log.poll()
  log.close()
  for (const file of [a.out, a.err, unifiedLogPath(home)]) {
    assert.ok(fs.existsSync(`${file}.2`), `${file}.2 exists`)
    assert.equal(fs.existsSync(`${file}.3`), false, `${file}.3 is not kept`)
  }
  // What is kept is the newest part of the stream, in order and complete.
  const kept = [2, 1].flatMap((n) => linesOf(`${unifiedLogPath(home)}.${n}`)).concat(linesOf(unifiedLogPath(home)))
  const texts = kept.map((l) => parseLine(l)!.text)
  const outs = texts.filter((l) => l.startsWith('line ')).map((l) => Number(l.slice(5)))
  assert.deepEqual(
    outs,
    [...Array(outs.length).keys()].map((i) => 1500 - outs.length + i),
  )
  const raw = [2, 1].flatMap((n) => linesOf(`${a.out}.${n}`)).concat(linesOf(a.out))
  assert.equal(new Set(raw).size, raw.length, 'no line twice in the process log and its copies')
  assert.equal(raw.filter((l) => l.startsWith('line ')).at(-1), 'line 1499')
})

test('log state: the version 1 offsets file (file -> offset) is still understood', (t) => {
  const home = tempHome(t)
  fs.mkdirSync(home.run, { recursive: true })
  fs.writeFileSync(offsetsPath(home), JSON.stringify({ '/x/a-0.log': 12 }))
  assert.deepEqual(readLogState(home).sources['/x/a-0.log'].out, { file: '/x/a-0.log', offset: 12 })
})

test('tailFile: the last N whole lines, filtered, across blocks; a line still being written is left out', (t) => {
  const home = tempHome(t)
  const file = path.join(home.logs, 'big.log')
  const body =
    Array.from({ length: 30_000 }, (_, i) => `${i % 3 === 0 ? 'api-0' : 'db-0'} line ${i} ✓`).join('\n') + '\n'
  fs.writeFileSync(file, body + 'partial')
  const all = tailFile(file, 3)
  assert.deepEqual(all.lines, ['api-0 line 29997 ✓', 'db-0 line 29998 ✓', 'db-0 line 29999 ✓'])
  assert.equal(all.end, Buffer.byteLength(body))
  const api = tailFile(file, 2, (l) => l.startsWith('api-0'))
  assert.deepEqual(api.lines, ['api-0 line 29994 ✓', 'api-0 line 29997 ✓'])
  assert.equal(tailFile(file, 100_000).lines.length, 30_000)
  assert.deepEqual(tailLines(file, 2), ['db-0 line 29999 ✓', 'partial'])
  assert.deepEqual(tailFile(path.join(home.logs, 'missing.log'), 5), { lines: [], end: 0 })
})

test('FileFollower: whole lines only; a clean starts over, a copy-truncate rotation is finished from x.1, a rename is followed', (t) => {
  const home = tempHome(t)
  const file = path.join(home.logs, 'f.log')
  fs.writeFileSync(file, 'a\nb')
  const f = new FileFollower(file, 0)
  const take = () => {
    const r = f.read()
    r.commit()
    return r.lines
  }
  assert.deepEqual(take(), ['a'])
  append(file, 'c\nd\n')
  assert.deepEqual(take(), ['bc', 'd'])
  // Copy and truncate: the bytes written before the cut are in f.log.1.
  append(file, 'e\n')
  fs.copyFileSync(file, `${file}.1`)
  const size = fs.statSync(file).size
  fs.truncateSync(file, 0)
  append(file, 'f\n')
  assert.deepEqual(f.truncated({ kind: 'rotate', size }), ['e'])
  assert.deepEqual(take(), ['f'])
  // Clean: everything from the start.
  fs.truncateSync(file, 0)
  append(file, 'g\nh\n')
  assert.deepEqual(f.truncated({ kind: 'clean', size: 4 }), [])
  assert.deepEqual(take(), ['g', 'h'])
  // Rename: the rest of the old file, then the new one.
  append(file, 'i\n')
  fs.renameSync(file, `${file}.1`)
  fs.writeFileSync(file, 'j\n')
  assert.deepEqual(take(), ['i'])
  assert.deepEqual(take(), ['j'])
  // A read that is not committed is read again.
  append(file, 'k\n')
  assert.deepEqual(f.read().lines, ['k'])
  assert.deepEqual(take(), ['k'])
  f.close()
})

test('followFiles: follows across a clean announced through the generation file', async (t) => {
  const home = tempHome(t)
  const file = unifiedLogPath(home)
  fs.writeFileSync(file, 'x-0                 >> old\n')
  const seen: string[] = []
  const loop = followFiles(
    home,
    [new FileFollower(file, fs.statSync(file).size)],
    (_f, lines) => seen.push(...lines),
    10,
  )
  t.after(() => loop.stop())
  append(file, 'x-0                 >> one\n')
  await waitFor(() => seen.length === 1, 2000, 'the first line')
  beginTruncation(home)
  const { files } = truncateLogFiles(home)
  // Regrown past the old offset before the follower looks: only the generation tells it started over.
  append(file, 'x-0                 >> two, longer than the line that was here before\n')
  endTruncation(home, files)
  await waitFor(() => seen.length === 2, 2000, 'the line after the clean')
  loop.stop()
  await loop.done
  assert.deepEqual(seen, [
    'x-0                 >> one',
    'x-0                 >> two, longer than the line that was here before',
  ])
})

test('FollowSet: two copy-truncate rotations between two looks are read from x.log.2, then x.log.1, then the file', (t) => {
  const home = tempHome(t)
  const file = path.join(home.logs, 'nginx-access.log')
  fs.writeFileSync(file, '')
  const seen: string[] = []
  const set = new FollowSet(home, [new FileFollower(file, 0)], (_f, lines) => seen.push(...lines))
  let n = 0
  const write = (count: number) => {
    for (let i = 0; i < count; i++) append(file, `request ${n++}\n`)
  }
  const rotate = () => {
    const events: TruncationFiles = {}
    copyTruncate([file], 3, {
      pause: () => undefined,
      resume: () => {},
      drain: () => {},
      begin: () => beginTruncation(home),
      truncated: (f, size) => (events[f] = { kind: 'rotate', size }),
      end: () => endTruncation(home, events),
    })
  }
  write(5)
  set.tick()
  write(5)
  rotate()
  write(5)
  rotate()
  write(5)
  set.tick()
  assert.deepEqual(
    seen,
    Array.from({ length: 20 }, (_, i) => `request ${i}`),
  )
  assert.deepEqual(
    linesOf(`${file}.2`),
    Array.from({ length: 10 }, (_, i) => `request ${i}`),
  )
})

test('parseLogState: every kind of damage is reported, and no damaged position is kept', () => {
  const valid = {
    version: 2,
    sources: {
      '/x/a-0.log': {
        id: 'a-0',
        out: { file: '/x/a-0.log', offset: 10 },
        err: { file: '/x/a-0.stderr.log', offset: 4 },
      },
    },
  }
  assert.equal(parseLogState(JSON.stringify(valid)).damage, undefined)
  assert.equal(parseLogState(undefined).damage, undefined)
  for (const [text, detail] of [
    ['', 'empty'],
    ['{"vers', 'not valid JSON'],
    ['null', 'got null'],
    ['[]', 'an array'],
    ['{}', 'no files'],
  ]) {
    const loaded = parseLogState(text)
    assert.deepEqual(loaded.state.sources, {}, text)
    assert.ok(
      loaded.damage?.whole && loaded.damage.detail.includes(detail),
      `${JSON.stringify(text)}: ${JSON.stringify(loaded.damage)}`,
    )
  }
  const bad = (edit: (s: any) => void) => {
    const s = structuredClone(valid) as any
    edit(s.sources['/x/a-0.log'])
    return parseLogState(JSON.stringify(s))
  }
  for (const edit of [
    (s: any) => (s.out.offset = -1),
    (s: any) => (s.out.offset = '10'),
    (s: any) => (s.err.offset = null),
    (s: any) => (s.out.offset = 1.5),
    (s: any) => (s.copies = [[5, 2]]),
    (s: any) => (s.out.file = '/y'),
  ]) {
    const loaded = bad(edit)
    assert.deepEqual(loaded.state.sources, {})
    assert.deepEqual(loaded.damage?.files, ['/x/a-0.log'])
  }
  const pending = parseLogState(JSON.stringify({ ...valid, pending: { ino: 1, before: -3, after: 0, prev: {} } }))
  assert.ok(pending.damage?.whole, 'a bad record of the last write trusts no position')
})
