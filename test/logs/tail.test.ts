// tailLines with a start offset: one run's output out of a log file that earlier runs also wrote to.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { tailLines } from '../../lib/logs/tail.ts'

test('tailLines from an offset: only what was written after it, across blocks, an unfinished line included', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-tail-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'web-0.log')
  // An earlier run: more than one 64 KB block, its last line unfinished.
  fs.writeFileSync(
    file,
    Array.from({ length: 5000 }, (_, i) => `earlier ${i} ${'x'.repeat(20)}`).join('\n') + '\nearlier unfinished',
  )
  const from = fs.statSync(file).size
  assert.deepEqual(tailLines(file, 5, from), [])
  fs.appendFileSync(file, ' and continued\nthis run 1\nthis run 2\npartial')
  assert.deepEqual(tailLines(file, 20, from), [' and continued', 'this run 1', 'this run 2', 'partial'])
  assert.deepEqual(tailLines(file, 2, from), ['this run 2', 'partial'])
  assert.deepEqual(tailLines(file, 2), ['this run 2', 'partial'])
  // Truncated since (logs clean, rotation): everything now in the file is newer than the offset.
  fs.writeFileSync(file, 'after clean\n')
  assert.deepEqual(tailLines(file, 5, from), ['after clean'])
  assert.deepEqual(tailLines(path.join(dir, 'missing.log'), 5, 10), [])
})
