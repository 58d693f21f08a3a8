// The cost of `start --watch` while nothing changes: 8 servers, each watching a source folder of its own (a few
// hundred files in nested folders, plus a node_modules it ignores), the supervisor's CPU over the same idle windows.
// `node --import tsx bench/watch-scenario.ts` runs it alone and prints the figures (BENCH_IDLE_* as for live).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchSession, freePortRange, healthChecker, pollUntil } from './common.ts'
import { idleWindows, type IdleResult, type LiveOptions } from './live-scenario.ts'
import { programs } from './programs.ts'
import { BackendManager } from './tools.ts'

const SERVERS = 8
const FOLDERS = 4
const FILES = 50

// src/<server>/pkgN/fileM.ts, and an ignored node_modules with as many files again.
function sourceTree(home: string, server: string): string {
  const src = path.join('src', server)
  for (const top of [src, path.join(src, 'node_modules', 'dep')])
    for (let d = 0; d < FOLDERS; d++) {
      const dir = path.join(home, top, `pkg${d}`)
      fs.mkdirSync(dir, { recursive: true })
      for (let f = 0; f < FILES; f++) fs.writeFileSync(path.join(dir, `file${f}.ts`), `export const n = ${f}\n`)
    }
  return src
}

export async function idleWatched(opts: LiveOptions): Promise<IdleResult[]> {
  const base = await freePortRange(SERVERS)
  const home = path.join(opts.tmp, `bm-idle-watched-${SERVERS}`)
  fs.mkdirSync(home, { recursive: true })
  const sets = Array.from({ length: SERVERS }, (_, i) => ({
    name: `w${i}`,
    count: 1,
    basePort: base + i,
    argv: opts.serverArgv,
  }))
  const watch = Object.fromEntries(sets.map((s) => [s.name, [sourceTree(home, s.name)]]))
  // Only the first server owns "/"; the others get a module each, so the config is valid behind no proxy too.
  const modules = Object.fromEntries(sets.slice(1).map((s) => [s.name, [s.name]]))
  const bm = new BackendManager('backend-manager', home, { sets, modules, watch })
  opts.onStarted(() => bm.teardown())
  await bm.setup()
  await bm.start()
  const ports = sets.map((s) => s.basePort)
  await pollUntil(`${SERVERS} watched servers to answer`, healthChecker(ports), 120_000, 100)
  const what = `its supervisor, start --watch (each server watching ${FOLDERS * FILES} files)`
  const daemon = { tool: 'backend-manager', what, pid: bm.daemonPid()! }
  const idle = await idleWindows([daemon], SERVERS, opts.log)
  await bm.stop()
  return idle.map((r) => ({ ...r, watched: true }))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`)
  const { tmp, teardowns, cleanup } = benchSession('bm-bench-watch-', log)
  try {
    const server = programs('js').server
    const opts = {
      tmp,
      serverArgv: server.argv,
      serverLabel: server.label,
      log,
      onStarted: (s: () => Promise<void>) => void teardowns.push(s),
    }
    process.stdout.write(JSON.stringify(await idleWatched(opts), null, 2) + '\n')
  } finally {
    await cleanup()
  }
}
