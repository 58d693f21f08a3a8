// Following a file across a rename and a clean: what was shown is never shown again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveHome } from '../../lib/core/home.ts'
import { FileFollower, FollowSet } from '../../lib/logs/follow.ts'
import { beginTruncation, endTruncation } from '../../lib/logs/offsets.ts'
import { unifiedLogPath } from '../../lib/logs/paths.ts'

test('FollowSet: a clean right after the unified log was moved aside does not show the moved file again', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-follow-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  const home = resolveHome({}, root, root)
  fs.mkdirSync(home.logs, { recursive: true })
  const file = unifiedLogPath(home)
  const write = (from: number, to: number) => {
    for (let i = from; i < to; i++) fs.appendFileSync(file, `line ${i}\n`)
  }
  const seen: string[] = []
  const set = new FollowSet(home, [new FileFollower(file, 0)], (_f, lines) => seen.push(...lines))
  write(0, 5)
  set.tick()
  // Rotated by rename, then cleaned (truncated in place, the moved copy removed) before the follower looked again.
  write(5, 10)
  fs.renameSync(file, `${file}.1`)
  write(10, 12)
  beginTruncation(home)
  const size = fs.statSync(file).size
  fs.truncateSync(file, 0)
  fs.rmSync(`${file}.1`)
  endTruncation(home, { [file]: { kind: 'clean', size } })
  write(12, 14)
  set.tick()
  set.tick()
  assert.deepEqual(seen, ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 12', 'line 13'])
  for (const follower of set.followers) follower.close()
})
