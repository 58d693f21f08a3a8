// The unified log's writer on a nearly full disk: a batch that does not fit is taken again in smaller parts,
// so the log fills what room there is instead of retrying one batch too big for it forever.
// Mounting needs root: without it the test is skipped, saying why.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { homeAt } from '../../lib/core/home.ts'
import { UnifiedLog } from '../../lib/logs/unified.ts'
import { processLogPath, stderrLogPath, unifiedLogPath } from '../../lib/logs/paths.ts'

const freeBytes = (dir: string) => {
  const s = fs.statfsSync(dir)
  return s.bavail * s.bsize
}

// A folder that is a 2 MB tmpfs of its own; undefined (the test skipped) when mounting is not permitted.
function tmpfs(t: TestContext): string | undefined {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-batch-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', root], { stdio: 'pipe' })
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true })
    const why = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message
    t.skip(`cannot mount a tmpfs (${why}); run as root to test a full disk`)
    return undefined
  }
  t.after(() => {
    execFileSync('umount', ['-l', root])
    fs.rmSync(root, { recursive: true, force: true })
  })
  return root
}

test('unified log: a batch too big for the room left is written in smaller parts until the disk is full', (t) => {
  const root = tmpfs(t)
  if (!root) return
  const home = homeAt(root)
  const log = new UnifiedLog(home)
  const out = processLogPath(home, 'chat-0')
  // 600 KB of lines, more than one read, then all but 200 KB of what is left taken by a filler.
  const lines = Array.from({ length: 6000 }, (_, n) => `line ${String(n).padStart(5, '0')} ${'x'.repeat(84)}\n`)
  fs.writeFileSync(out, lines.join(''))
  log.follow('chat-0', out)
  const filler = path.join(root, 'filler')
  fs.writeFileSync(filler, Buffer.alloc(freeBytes(root) - (200 << 10)))
  for (let i = 0; i < 20; i++) log.poll()
  assert.ok(freeBytes(root) < 16 << 10, `the room left is used: ${freeBytes(root)} bytes still free`)
  const written = fs.readFileSync(unifiedLogPath(home), 'utf8').split('\n').slice(0, -1)
  assert.ok(written.length > 1000, `lines written: ${written.length}`)
  written.forEach((line, n) => assert.ok(line.endsWith(lines[n].slice(0, -1)), `line ${n} whole and in order`))

  fs.rmSync(filler)
  for (let i = 0; i < 20; i++) log.poll()
  log.close()
  assert.equal(fs.readFileSync(unifiedLogPath(home), 'utf8').split('\n').length - 1, lines.length, 'every line')
})

// A burst of stderr is copied into the log file as one block: one bigger than the room left is still taken in parts.
test('unified log: a stderr block bigger than the room left is written in parts until the disk is full', (t) => {
  const root = tmpfs(t)
  if (!root) return
  const home = homeAt(root)
  const log = new UnifiedLog(home)
  const out = processLogPath(home, 'chat-0')
  const err = stderrLogPath(home, 'chat-0')
  const lines = Array.from({ length: 1200 }, (_, n) => `oops ${String(n).padStart(5, '0')} ${'x'.repeat(84)}\n`)
  fs.writeFileSync(out, '')
  fs.writeFileSync(err, lines.join(''))
  log.follow('chat-0', out, { stderrFile: err })
  // Room for the copy (about 110 KB) and for less than half of it again in the unified log.
  const filler = path.join(root, 'filler')
  fs.writeFileSync(filler, Buffer.alloc(freeBytes(root) - (160 << 10)))
  for (let i = 0; i < 20; i++) log.poll()
  assert.equal(fs.statSync(out).size, lines.join('').length, 'the stderr lines were copied to the log file')
  assert.ok(freeBytes(root) < 16 << 10, `the room left is used: ${freeBytes(root)} bytes still free`)
  const written = fs.readFileSync(unifiedLogPath(home), 'utf8').split('\n').slice(0, -1)
  assert.ok(written.length > 100, `lines written: ${written.length}`)
  written.forEach((line, n) => assert.match(line, new RegExp(`^chat-0 +!> ${lines[n].slice(0, -1)}$`), `line ${n}`))

  fs.rmSync(filler)
  for (let i = 0; i < 20; i++) log.poll()
  log.close()
  const all = fs.readFileSync(unifiedLogPath(home), 'utf8').split('\n').slice(0, -1)
  assert.deepEqual(
    all.map((line) => line.replace(/^chat-0 +!> /, '')),
    lines.map((line) => line.slice(0, -1)),
    'every line once, whole, in order, marked as stderr',
  )
})
