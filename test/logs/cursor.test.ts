// Reading the unified log by cursor: each line once, across rename rotations, a copy-truncate, a clean and a
// partial last line.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveHome, type Home } from '../../lib/core/home.ts'
import { readLogSince } from '../../lib/logs/cursor.ts'
import { beginTruncation, endTruncation } from '../../lib/logs/offsets.ts'
import { unifiedLogPath } from '../../lib/logs/paths.ts'
import { shiftArchives } from '../../lib/logs/rotate.ts'

function tempHome(t: { after(fn: () => void): void }): { home: Home; file: string; write(a: number, b: number): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-cursor-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  const home = resolveHome({}, root, root)
  fs.mkdirSync(home.logs, { recursive: true })
  fs.mkdirSync(home.run, { recursive: true })
  const file = unifiedLogPath(home)
  const write = (from: number, to: number) => {
    for (let i = from; i < to; i++) fs.appendFileSync(file, `api-0               >> line ${i}\n`)
  }
  return { home, file, write }
}

const numbers = (lines: string[]) => lines.map((l) => Number(/line (\d+)/.exec(l)?.[1]))
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

test('a cursor reads only what is new, and a partial last line once it is whole', async (t) => {
  const { home, file, write } = tempHome(t)
  write(0, 5)
  const first = await readLogSince(home, undefined, 3)
  assert.deepEqual(numbers(first.lines), [2, 3, 4])
  assert.deepEqual((await readLogSince(home, first.cursor, 100)).lines, [])
  write(5, 7)
  fs.appendFileSync(file, 'api-0               >> line 7')
  const second = await readLogSince(home, first.cursor, 100)
  assert.deepEqual(numbers(second.lines), [5, 6])
  fs.appendFileSync(file, ' done\n')
  const third = await readLogSince(home, second.cursor, 100)
  assert.deepEqual(third.lines, ['api-0               >> line 7 done'])
  write(8, 20)
  const limited = await readLogSince(home, third.cursor, 5)
  assert.deepEqual(numbers(limited.lines), range(15, 20))
  assert.equal(limited.skipped, 7)
  await assert.rejects(readLogSince(home, 'nonsense', 5), /cursor "nonsense" is not one a logs call returned/)
})

test('a cursor goes on across rename rotations: the rest of the moved file, then the newer ones', async (t) => {
  const { home, file, write } = tempHome(t)
  write(0, 3)
  const first = await readLogSince(home, undefined, 100)
  write(3, 5)
  // Moved aside twice since the cursor was taken (the writer rotates the unified log by rename).
  shiftArchives(file, 5)
  fs.renameSync(file, `${file}.1`)
  write(5, 8)
  shiftArchives(file, 5)
  fs.renameSync(file, `${file}.1`)
  write(8, 10)
  const next = await readLogSince(home, first.cursor, 100)
  assert.deepEqual(numbers(next.lines), range(3, 10))
  assert.deepEqual((await readLogSince(home, next.cursor, 100)).lines, [])
})

test('a cursor goes on across a copy-truncate rotation and a clean', async (t) => {
  const { home, file, write } = tempHome(t)
  write(0, 3)
  const first = await readLogSince(home, undefined, 100)
  write(3, 6)
  // Copied to .1 and truncated in place, as the generation file records.
  beginTruncation(home)
  const size = fs.statSync(file).size
  fs.copyFileSync(file, `${file}.1`)
  fs.truncateSync(file, 0)
  endTruncation(home, { [file]: { kind: 'rotate', size } })
  write(6, 8)
  const rotated = await readLogSince(home, first.cursor, 100)
  assert.deepEqual(numbers(rotated.lines), range(3, 8))
  write(8, 12)
  beginTruncation(home)
  fs.truncateSync(file, 0)
  endTruncation(home, { [file]: { kind: 'clean', size: fs.statSync(`${file}.1`).size } })
  write(12, 13)
  const cleaned = await readLogSince(home, rotated.cursor, 100)
  assert.deepEqual(numbers(cleaned.lines), [12])
})
