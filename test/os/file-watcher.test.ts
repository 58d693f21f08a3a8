// What a `watch:` entry matches (globs relative to the config's folder, ignores by name or path, the defaults),
// which folders are watched, the debouncer's batches, and real file changes told through fs.watch on each folder.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Debouncer, watchFiles, type Timers } from '../../lib/os/file-watcher.ts'
import { pathMatcher, shownPath, watchRoots } from '../../lib/os/globs.ts'
import { waitFor } from '../helpers.ts'

const root = '/work/app'
const at = (rel: string) => path.join(root, rel)

test('a plain path matches itself and everything below it, nothing beside it', () => {
  const m = pathMatcher(root, ['src', 'main.py'], [])
  assert.ok(m.matches(at('src/app.py')))
  assert.ok(m.matches(at('src/deep/er/x.ts')))
  assert.ok(m.matches(at('main.py')))
  assert.ok(!m.matches(at('srcs/app.py')))
  assert.ok(!m.matches(at('other/src/app.py')))
  assert.ok(!m.matches(at('main.pyc')))
})

test('globs: * and ? stay in one folder, ** crosses folders, {a,b} and [ab] choose', () => {
  const m = pathMatcher(root, ['src/*.py', 'spec/**/*.yaml', 'conf/{dev,test}.toml', 'v[12]/?.js'], [])
  assert.ok(m.matches(at('src/app.py')))
  assert.ok(!m.matches(at('src/app.ts')))
  assert.ok(!m.matches(at('src/sub/app.ts')))
  assert.ok(m.matches(at('spec/openapi.yaml')), '**/ also means no folder at all')
  assert.ok(m.matches(at('spec/a/b/openapi.yaml')))
  assert.ok(!m.matches(at('spec/openapi.json')))
  assert.ok(m.matches(at('conf/dev.toml')) && m.matches(at('conf/test.toml')))
  assert.ok(!m.matches(at('conf/prod.toml')))
  assert.ok(m.matches(at('v1/a.js')) && m.matches(at('v2/b.js')))
  assert.ok(!m.matches(at('v3/a.js')) && !m.matches(at('v1/ab.js')))
  // Dots and other regular expression characters are themselves.
  assert.ok(!pathMatcher(root, ['a.b'], []).matches(at('axb')))
})

test('paths outside the folder and absolute paths work too', () => {
  const m = pathMatcher(root, ['../spec', '/etc/app.conf'], [])
  assert.ok(m.matches('/work/spec/api.yaml'))
  assert.ok(m.matches('/etc/app.conf'))
  assert.ok(!m.matches(at('spec/api.yaml')))
})

test('ignores: a name matches anywhere, a path from the folder; .git, node_modules, __pycache__ always', () => {
  const m = pathMatcher(root, ['.'], ['*.log', 'build/out', 'tmp*'], ['/work/app/.local/run'])
  assert.ok(m.matches(at('src/app.py')))
  for (const rel of [
    '.git/index',
    'src/node_modules/x/index.js',
    'node_modules/.bin/y',
    'pkg/__pycache__/a.cpython-311.pyc',
    'src/server.log',
    'build/out/bundle.js',
    'src/tmp123/x',
    '.local/run/state.json',
  ]) {
    assert.ok(!m.matches(at(rel)), `${rel} should be ignored`)
    assert.ok(m.ignored(at(rel)))
  }
  assert.ok(m.matches(at('lib/build/out/x.js')), 'an ignore with a "/" starts at the folder')
  assert.ok(m.matches(at('.local/logs/a.log')) === false, '*.log anywhere')
  assert.ok(m.matches(at('.local/bin/nginx')), 'only the folders given are left out')
  assert.ok(m.matches(at('src/git/x')) && m.matches(at('my_node_modules.txt')), 'whole names only')
})

test('the folders watched: the part of each entry before its first glob, none inside another', () => {
  assert.deepEqual(watchRoots(root, ['src', 'src/**/*.py', 'spec/*.yaml', '../shared/x.proto']), [
    '/work/app/spec',
    '/work/app/src',
    '/work/shared/x.proto',
  ])
  assert.deepEqual(watchRoots(root, ['.', 'src']), ['/work/app'])
  assert.deepEqual(watchRoots(root, ['**/*.py']), ['/work/app'])
})

test('a changed file is shown relative to the folder, or as it is when outside it', () => {
  assert.equal(shownPath(root, at('src/app.py')), 'src/app.py')
  assert.equal(shownPath(root, '/etc/app.conf'), '/etc/app.conf')
})

// Timers driven by hand: the debouncer's batches without waiting.
function manualTimers() {
  let now = 0
  let pending: { fn: () => void; due: number; id: number }[] = []
  let ids = 0
  const timers: Timers = {
    now: () => now,
    set: (fn, ms) => {
      pending.push({ fn, due: now + ms, id: ++ids })
      return ids
    },
    clear: (id) => void (pending = pending.filter((p) => p.id !== id)),
  }
  const advance = (ms: number) => {
    now += ms
    for (const p of pending.filter((p) => p.due <= now)) {
      pending = pending.filter((q) => q !== p)
      p.fn()
    }
  }
  return { timers, advance }
}

test('debounce: one batch once changes stop for the debounce, each file once, with the last change time', () => {
  const { timers, advance } = manualTimers()
  const batches: { items: string[]; at: number }[] = []
  const d = new Debouncer<string>(300, (items, at) => batches.push({ items, at }), timers)
  d.add('a')
  advance(200)
  d.add('b')
  advance(200)
  d.add('a')
  advance(299)
  assert.deepEqual(batches, [], 'a change within the debounce starts it over')
  advance(1)
  assert.deepEqual(batches, [{ items: ['a', 'b'], at: 400 }])
  advance(1000)
  assert.equal(batches.length, 1)
  d.add('c')
  d.close()
  advance(1000)
  assert.equal(batches.length, 1, 'closed: what was pending is dropped')
})

test('debounce 0 still batches what arrives together', () => {
  const { timers, advance } = manualTimers()
  const batches: string[][] = []
  const d = new Debouncer<string>(0, (items) => batches.push(items), timers)
  d.add('a')
  d.add('b')
  advance(0)
  assert.deepEqual(batches, [['a', 'b']])
})

test('real changes: added, changed and removed files are told; ignored and unmatched ones are not', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-watch-unit-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'src', 'node_modules'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'src', 'app.py'), 'v1\n')
  const seen: string[] = []
  const w = watchFiles({
    root: dir,
    paths: ['src/**/*.py'],
    ignore: ['skip'],
    onChange: (file) => seen.push(path.relative(dir, file)),
  })
  t.after(() => w.close())
  await w.ready
  fs.writeFileSync(path.join(dir, 'src', 'notes.txt'), 'not a .py\n')
  fs.writeFileSync(path.join(dir, 'src', 'node_modules', 'dep.py'), 'ignored\n')
  fs.mkdirSync(path.join(dir, 'src', 'skip'))
  fs.writeFileSync(path.join(dir, 'src', 'skip', 'x.py'), 'ignored\n')
  fs.writeFileSync(path.join(dir, 'src', 'app.py'), 'v2\n')
  fs.mkdirSync(path.join(dir, 'src', 'pkg'))
  fs.writeFileSync(path.join(dir, 'src', 'pkg', 'new.py'), 'new\n')
  await waitFor(() => seen.includes('src/app.py') && seen.includes('src/pkg/new.py'), 10_000, 'the changes')
  fs.rmSync(path.join(dir, 'src', 'app.py'))
  await waitFor(() => seen.filter((f) => f === 'src/app.py').length >= 2, 10_000, 'the removal')
  assert.deepEqual([...new Set(seen)].sort(), ['src/app.py', 'src/pkg/new.py'])
})

test('a file entry survives saves by rename; an entry created later and a folder moved in are watched', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-watch-unit-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'main.py'), 'v1\n')
  fs.writeFileSync(path.join(dir, 'other.py'), 'v1\n')
  const seen: string[] = []
  const w = watchFiles({
    root: dir,
    paths: ['main.py', 'later'],
    ignore: [],
    onChange: (f) => seen.push(path.relative(dir, f)),
  })
  t.after(() => w.close())
  await w.ready
  const count = (f: string) => seen.filter((s) => s === f).length
  for (const version of ['v2', 'v3']) {
    // As editors save: a new file renamed over the old one.
    const before = count('main.py')
    fs.writeFileSync(path.join(dir, '.main.py.swp'), `${version}\n`)
    fs.renameSync(path.join(dir, '.main.py.swp'), path.join(dir, 'main.py'))
    await waitFor(() => count('main.py') > before, 10_000, `the save of ${version}`)
  }
  fs.writeFileSync(path.join(dir, 'other.py'), 'v2\n')
  fs.mkdirSync(path.join(dir, 'later', 'sub'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'later', 'sub', 'a.py'), 'a\n')
  await waitFor(() => count('later/sub/a.py') > 0, 10_000, 'a file in the folder created later')
  const moved = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-watch-moved-'))
  fs.writeFileSync(path.join(moved, 'b.py'), 'b\n')
  fs.renameSync(moved, path.join(dir, 'later', 'moved'))
  await waitFor(() => count('later/moved/b.py') > 0, 10_000, 'a file in a folder moved in')
  fs.writeFileSync(path.join(dir, 'later', 'moved', 'b.py'), 'b2\n')
  await waitFor(() => count('later/moved/b.py') > 1, 10_000, 'a change in the moved folder')
  assert.equal(count('other.py'), 0, 'a file beside the watched one is not watched')
  assert.deepEqual(
    w
      .files()
      .map((f) => path.relative(dir, f))
      .sort(),
    ['later/moved/b.py', 'later/sub/a.py', 'main.py'],
  )
})
