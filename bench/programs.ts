// The processes every tool runs: the bundled demo server, either precompiled to plain JavaScript
// (node starts it in ~40 ms) or through tsx as the demo config does, and the logs tests' writer.
import fs from 'node:fs'
import path from 'node:path'
import ts from 'typescript'
import { benchDir, repoRoot } from './common.ts'

// Under bench/, so `ws` resolves from the repository's node_modules like the source does.
const buildDir = path.join(benchDir, '.build')

export interface Program {
  // argv for the process, identical for every tool.
  argv: string[]
  label: string
}

function compile(source: string, out: string): string {
  const text = fs.readFileSync(source, 'utf8')
  const js = ts.transpileModule(text, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  }).outputText
  fs.mkdirSync(buildDir, { recursive: true })
  const file = path.join(buildDir, out)
  fs.writeFileSync(file, js)
  return file
}

export function programs(mode: 'js' | 'tsx'): { server: Program; writer: Program } {
  const serverTs = path.join(repoRoot, 'examples', 'server.ts')
  // Plain JavaScript already: LW_MODE=burst prints LW_LINES lines once the file LW_GO exists.
  const writer = {
    argv: [process.execPath, path.join(repoRoot, 'test', 'fixtures', 'log-writer.mjs')],
    label: 'test/fixtures/log-writer.mjs',
  }
  if (mode === 'tsx')
    return {
      server: { argv: [process.execPath, '--import', 'tsx', serverTs], label: 'examples/server.ts through tsx' },
      writer,
    }
  return {
    server: {
      argv: [process.execPath, compile(serverTs, 'server.mjs')],
      label: 'examples/server.ts precompiled to JavaScript',
    },
    writer,
  }
}
