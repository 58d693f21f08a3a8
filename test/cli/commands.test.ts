// Help, usage errors and the command list come from each command's declaration: every declared flag,
// argument and command shows in them, through the real entry point.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { CommandDecl, SubcommandDecl } from '../../lib/cli/command.ts'
import { repoRoot, runCli } from '../helpers.ts'

const dir = path.join(repoRoot, 'scripts', 'commands')
const runModules = fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.meta.ts'))
const decls: CommandDecl[] = await Promise.all(
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.meta.ts'))
    .sort()
    .map(async (f) => (await import(path.join(dir, f))).default as CommandDecl),
)
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-commands-'))
process.once('exit', () => fs.rmSync(home, { recursive: true, force: true }))

const flat = (text: string) => text.replace(/\s+/g, ' ')
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

test('every command module has a declaration of the same name beside it', () => {
  assert.ok(runModules.length >= 15, `expected the command modules in ${dir}, found ${runModules.join(', ')}`)
  assert.deepEqual(
    decls.map((d) => `${d.name}.ts`),
    runModules.sort(),
  )
})

test('backend-manager --help names every command with its summary, and no internal one', async () => {
  const { code, stdout } = await runCli(home, ['--help'])
  assert.equal(code, 0)
  assert.ok(decls.length >= 15)
  for (const d of decls) {
    if (d.hidden) assert.doesNotMatch(stdout, new RegExp(`^ +${d.name} `, 'm'), `${d.name} is internal`)
    else assert.ok(flat(stdout).includes(` ${d.name} ${d.summary} `), `${d.name}: "${d.summary}" in\n${stdout}`)
  }
})

test('an unknown command is refused with the nearest name and the whole command list', async () => {
  const { code, stderr } = await runCli(home, ['stauts'])
  assert.equal(code, 2)
  assert.match(stderr, /^Error: unknown command "stauts" \(did you mean "status"\?\)\n/)
  for (const d of decls.filter((d) => !d.hidden)) assert.ok(flat(stderr).includes(` ${d.name} ${d.summary} `), d.name)
})

// Every page of help: each command that runs on its own, and each subcommand.
const pages = decls.flatMap((d) => [
  ...(d.subcommands && !d.args && !d.flags ? [] : [{ words: [d.name], spec: d as SubcommandDecl }]),
  ...Object.entries(d.subcommands ?? {}).map(([name, spec]) => ({ words: [d.name, name], spec })),
])

function declared(spec: SubcommandDecl): string[] {
  return [
    ...(spec.args ?? []).map((a) => a.name),
    ...(spec.rest ? [spec.rest.name] : []),
    ...Object.entries(spec.flags ?? {}).map(([name, f]) => (f.short ? `-${f.short}, --${name}` : `--${name}`)),
  ]
}

for (const { words, spec } of pages) {
  const command = words.join(' ')
  test(`${command} --help shows its usage and every argument and flag it declares`, async () => {
    const { code, stdout } = await runCli(home, [...words, '--help'])
    assert.equal(code, 0, stdout)
    assert.ok(stdout.startsWith(`Usage: backend-manager ${command}`), stdout)
    for (const term of declared(spec)) assert.match(stdout, new RegExp(`^  ${escape(term)}( |$)`, 'm'), term)
    // The parent's page says everything about its subcommands too.
    if (words.length === 2) {
      const parent = await runCli(home, [words[0], '--help'])
      for (const term of declared(spec)) assert.ok(parent.stdout.includes(`  ${term}`), `${term} in ${words[0]} --help`)
    }
  })

  test(`${command} with an unknown flag names the command, every flag it takes and its usage`, async () => {
    const { code, stderr } = await runCli(home, [...words, '--no-such-flag'])
    assert.equal(code, 2, stderr)
    const flags = Object.entries(spec.flags ?? {}).map(([name, f]) =>
      f.short ? `--${name} (-${f.short})` : `--${name}`,
    )
    const expected = flags.join(', ') || 'no flags'
    const see = `(see "backend-manager ${command} --help")`
    const error = `Error: ${command}: unknown flag '--no-such-flag'; expected ${expected} ${see}`
    assert.ok(stderr.startsWith(`${error}\n\nUsage: backend-manager ${command}`), stderr)
  })
}
