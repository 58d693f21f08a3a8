// The run's story is told in lib/stack/run.ts: the commands call its steps and hold no lifecycle of their own,
// and `stop` and `status` load none of the start machinery (they run often and must start quickly).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../helpers.ts'

// The relative modules a file loads when it is loaded: static imports that are not type-only (dynamic import()
// waits until it runs, and `import type` is erased).
function loadedBy(file: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8')
  return [...text.matchAll(/(?:^|\n)\s*(import|export)(\s+type)?\b[^'"`;]*?from\s+'([^']+)'/g)]
    .filter((m) => !m[2] && m[3].startsWith('.'))
    .map((m) => path.normalize(path.join(path.dirname(file), m[3])))
}

function loadGraph(entry: string): Set<string> {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const next of loadedBy(file)) visit(next)
  }
  visit(entry)
  return seen
}

const START_MACHINERY = [
  'lib/stack/start.ts',
  'lib/stack/stack.ts',
  'lib/stack/supervision.ts',
  'lib/stack/handover.ts',
  'lib/stack/supervise.ts',
  'lib/stack/foreground.ts',
  'lib/proxy/nginx/install.ts',
]

test('the load graph follows value imports and skips type-only and dynamic ones', () => {
  const run = loadGraph('lib/stack/run.ts')
  assert.ok(run.has('lib/stack/stop.ts') && run.has('lib/os/lock.ts'), [...run].join(' '))
  assert.ok(!run.has('lib/stack/start.ts'), 'run.ts imports the start side only when a run starts')
  assert.ok(loadGraph('scripts/commands/start.ts').has('lib/stack/run.ts'))
})

for (const command of ['stop', 'status']) {
  test(`"${command}" loads none of the start machinery`, () => {
    const loaded = loadGraph(`scripts/commands/${command}.ts`)
    assert.deepEqual(
      START_MACHINERY.filter((f) => loaded.has(f)),
      [],
    )
  })
}

test('run.ts tells every step of a run: start, foreground, supervise, restart, restart --only, stop', async () => {
  const run = await import('../../lib/stack/run.ts')
  for (const step of ['startStack', 'startForeground', 'superviseStack', 'restartStack', 'restartServers', 'stopStack'])
    assert.equal(typeof (run as Record<string, unknown>)[step], 'function', step)
})

test('no command takes the lock, writes the state or brings a stack up itself: that is lib/stack/', () => {
  const lifecycle = [
    'lib/os/lock.ts',
    'lib/stack/start.ts',
    'lib/stack/stack.ts',
    'lib/stack/supervision.ts',
    'lib/stack/handover.ts',
  ]
  const offending = fs
    .readdirSync(path.join(repoRoot, 'scripts/commands'))
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) => {
      const file = `scripts/commands/${name}`
      const text = fs.readFileSync(path.join(repoRoot, file), 'utf8')
      const imports = loadedBy(file).filter((dep) => lifecycle.includes(dep))
      const calls = text.match(/\b(writeState|removeState|acquireLock\w*|new Stack|stopAll)\b/g) ?? []
      return [...imports, ...calls].map((what) => `${file}: ${what}`)
    })
  assert.deepEqual(offending, [])
})
