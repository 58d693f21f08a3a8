// The layout is the map: lib/ folders are layers, each importing only from the ones before it, with no
// import cycle anywhere under lib/ and scripts/ (type-only imports included); no source line runs past 140 characters.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { repoRoot } from './helpers.ts'

const LAYERS = ['core', 'os', 'config', 'probe', 'logs', 'proxy', 'export', 'stack', 'cli', 'agent']

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(rel)
    return entry.name.endsWith('.ts') ? [rel] : []
  })
}

// Every relative module a file names: static imports and re-exports (type-only too) and dynamic import().
export function importsOf(file: string, text: string): string[] {
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s+'([^']+)'/g),
    ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ]
  return specs
    .map((m) => m[1])
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.normalize(path.join(path.dirname(file), spec)))
}

// Every cycle of the graph, each as one strongly connected component of two files or more, or a self-import.
export function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (node: string) => {
    index.set(node, index.size)
    low.set(node, index.get(node)!)
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node)!, low.get(next)!))
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!))
    }
    if (low.get(node) !== index.get(node)) return
    const component: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort())
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return found
}

const layerOf = (file: string) => (file.startsWith('scripts/') ? LAYERS.length : LAYERS.indexOf(file.split('/')[1]))

const files = [...sourceFiles('lib'), ...sourceFiles('scripts')]
const graph = new Map(files.map((file) => [file, importsOf(file, fs.readFileSync(path.join(repoRoot, file), 'utf8'))]))

test('the cycle finder sees a cycle through type-only imports, and a graph without one', () => {
  const a = 'lib/a.ts'
  const text = `import type { B } from './b.ts'\nimport {\n  c,\n} from './c.ts'\nconst d = () => import('./d.ts')\n`
  assert.deepEqual(importsOf(a, text), ['lib/b.ts', 'lib/c.ts', 'lib/d.ts'])
  const cyclic = new Map([
    [a, importsOf(a, text)],
    ['lib/b.ts', ['lib/c.ts']],
    ['lib/c.ts', [a]],
    ['lib/d.ts', []],
  ])
  assert.deepEqual(cycles(cyclic), [[a, 'lib/b.ts', 'lib/c.ts']])
  cyclic.set('lib/c.ts', [])
  assert.deepEqual(cycles(cyclic), [])
})

test('no import cycle under lib/ and scripts/, type-only imports included', () => {
  assert.ok(graph.size > 40, `expected the whole source tree, found ${graph.size} files`)
  assert.deepEqual(cycles(graph), [])
})

test('every module of lib/ lives in a layer folder and imports only from its own layer or the ones before it', () => {
  const misplaced = files.filter((file) => file.startsWith('lib/') && layerOf(file) < 0)
  assert.deepEqual(misplaced, [], `lib/ folders are the layers ${LAYERS.join(' -> ')}`)
  const upward = [...graph].flatMap(([file, deps]) =>
    deps.filter((dep) => layerOf(dep) > layerOf(file)).map((dep) => `${file} imports ${dep}`),
  )
  assert.deepEqual(upward, [], `layers, first to last: ${LAYERS.join(' -> ')}, then scripts/`)
})

test('only lib/os/platform.ts chooses between Linux (/proc) and other systems: no caller branches on it', () => {
  const chooser = new Set(['lib/os/platform.ts', 'lib/os/procfs.ts'])
  const branching = files.filter(
    (file) => !chooser.has(file) && /\bhasProcfs\b/.test(fs.readFileSync(path.join(repoRoot, file), 'utf8')),
  )
  assert.deepEqual(branching, [], 'ask lib/os/platform.ts (one function per concern) instead of testing hasProcfs')
})

test('no module of lib/ or scripts/ runs over 300 lines', () => {
  const lines = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8').split('\n').length - 1
  const long = files.filter((file) => lines(file) > 300).map((file) => `${file}: ${lines(file)} lines`)
  assert.deepEqual(long, [], 'split a long module by what its parts own')
})

const MAX_LINE = 140

// Every .ts/.mjs/.js file under dir; bench/ is read at its top level only (its node_modules hold the peers).
function scriptFiles(dir: string, deep = true): string[] {
  if (!fs.existsSync(path.join(repoRoot, dir))) return []
  return fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name)
    if (entry.isDirectory()) return deep && entry.name !== 'node_modules' ? scriptFiles(rel) : []
    return /\.(ts|mjs|js)$/.test(entry.name) ? [rel] : []
  })
}

test(`no source line is longer than ${MAX_LINE} characters`, () => {
  const checked = [
    ...['lib', 'scripts', 'test', 'examples', 'bin'].flatMap((dir) => scriptFiles(dir)),
    ...scriptFiles('bench', false),
  ]
  assert.ok(checked.includes('bench/bench.ts') && checked.includes('test/layout.test.ts'), checked.join(' '))
  const long = checked.flatMap((file) =>
    fs
      .readFileSync(path.join(repoRoot, file), 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.length > MAX_LINE ? [`${file}:${i + 1} (${line.length})`] : [])),
  )
  assert.deepEqual(long, [], `lines over ${MAX_LINE} characters: split the string, hoist a const or rewrap the comment`)
})

test('every module of lib/ and scripts/ opens with a comment saying what it owns', () => {
  const bare = files.filter((file) => !fs.readFileSync(path.join(repoRoot, file), 'utf8').startsWith('// '))
  assert.deepEqual(bare, [], 'line 1 of each module: `// <what this file owns>`, in one line')
})

// The MCP SDK and zod are heavy: only lib/agent/ imports them, and only the mcp command imports lib/agent/.
test('only the mcp command loads the MCP SDK and zod (through lib/agent/)', () => {
  const packages = files.filter((file) =>
    /from\s+'(@modelcontextprotocol\/sdk[^']*|zod)'/.test(fs.readFileSync(path.join(repoRoot, file), 'utf8')),
  )
  assert.ok(packages.includes('lib/agent/mcp-server.ts'), packages.join(' '))
  assert.deepEqual(
    packages.filter((file) => !file.startsWith('lib/agent/')),
    [],
  )
  const agentUsers = [...graph].filter(
    ([file, deps]) => !file.startsWith('lib/agent/') && deps.some((dep) => dep.startsWith('lib/agent/')),
  )
  assert.deepEqual(
    agentUsers.map(([file]) => file),
    ['scripts/commands/mcp.ts'],
  )
})
