import { test } from 'node:test'
import assert from 'node:assert/strict'
import { csv, positiveInt, useColour } from '../../lib/cli/context.ts'
import { defineCommand, parseCommand } from '../../lib/cli/command.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'

function usageMessage(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof BackendManagerError && error.code === 'USAGE' && error.exitCode === 2, String(error))
    return error.message
  }
  assert.fail('expected a usage error')
}

const demo = defineCommand({
  name: 'demo',
  summary: 'a command to parse with',
  args: [{ name: 'CONFIG', description: 'the config' }],
  flags: {
    only: { type: 'string', value: 'a,b', description: 'these' },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'there' },
    proxy: { type: 'string', choices: ['none', 'nginx'], default: 'none', description: 'which' },
    foreground: { type: 'boolean', description: 'stay' },
  },
  subcommands: {
    run: {
      summary: 'run it',
      flags: { workers: { type: 'string', value: 'N', required: true, description: 'how many' } },
      rest: { name: 'COMMAND ...', description: 'what to run' },
    },
  },
})

test('parseCommand: flags, defaults, one positional; the errors name the command, the flag and what it takes', () => {
  const { values, positionals, subcommand } = parseCommand(demo, [
    'dev.yaml',
    '--only',
    'a,b',
    '-o',
    'x',
    '--foreground',
  ])
  assert.deepEqual({ ...values }, { only: 'a,b', output: 'x', proxy: 'none', foreground: true })
  assert.deepEqual(positionals, ['dev.yaml'])
  assert.equal(subcommand, undefined)
  // -h anywhere among the flags asks for the help, whatever else is wrong with the line.
  const help = parseCommand(demo, ['a', 'b', '-h'])
  assert.deepEqual([help.help, { ...help.values }], [true, { proxy: 'none' }])
  const see = '(see "backend-manager demo --help")'
  assert.equal(
    usageMessage(() => parseCommand(demo, ['--bogus'])),
    `demo: unknown flag '--bogus'; expected --only, --output (-o), --proxy, --foreground ${see}`,
  )
  assert.equal(
    usageMessage(() => parseCommand(demo, ['a', 'b'])),
    'demo: unexpected argument "b"; see "backend-manager demo --help"',
  )
  assert.match(
    usageMessage(() => parseCommand(demo, ['--only'])),
    /^demo: .*--only.*; expected --only, /,
  )
  assert.equal(
    usageMessage(() => parseCommand(demo, ['--proxy', 'haproxy'])),
    '--proxy: expected one of none, nginx, got "haproxy"',
  )
})

test('parseCommand: a subcommand parses its own flags, and the words after "--" are passed on', () => {
  const parsed = parseCommand(demo, ['run', '--workers', '2', '--', 'sleep', '--only', '9'])
  assert.equal(parsed.subcommand, 'run')
  assert.deepEqual({ ...parsed.values }, { workers: '2' })
  assert.deepEqual(parsed.rest, ['sleep', '--only', '9'])
  assert.equal(
    usageMessage(() => parseCommand(demo, ['run'])),
    'demo run: --workers is required (see "backend-manager demo run --help")',
  )
  assert.equal(
    usageMessage(() => parseCommand(demo, ['run', '--workers', '2', '--only', 'a'])),
    `demo run: unknown flag '--only'; expected --workers (see "backend-manager demo run --help")`,
  )
})

const ints: { value: string | undefined; want?: number; error?: string }[] = [
  { value: undefined, want: undefined },
  { value: '4', want: 4 },
  { value: '65535', want: 65535 },
  { value: '0', error: '--workers: expected a whole number from 1 to 65535, got "0"' },
  { value: '65536', error: '--workers: expected a whole number from 1 to 65535, got "65536"' },
  { value: '4.5', error: '--workers: expected a whole number from 1 to 65535, got "4.5"' },
  { value: '-3', error: '--workers: expected a whole number from 1 to 65535, got "-3"' },
  { value: 'four', error: '--workers: expected a whole number from 1 to 65535, got "four"' },
]
for (const c of ints) {
  test(`positiveInt(${JSON.stringify(c.value)})`, () => {
    if (c.error)
      assert.equal(
        usageMessage(() => positiveInt('--workers', c.value)),
        c.error,
      )
    else assert.equal(positiveInt('--workers', c.value), c.want)
  })
}

test('csv: trims and drops empty items', () => {
  assert.deepEqual(csv(' a, b,,c '), ['a', 'b', 'c'])
  assert.equal(csv(undefined), undefined)
})

const colours: [boolean, NodeJS.ProcessEnv, boolean][] = [
  [true, {}, true],
  [false, {}, false],
  [true, { NO_COLOR: '' }, false],
  [true, { NO_COLOR: '1' }, false],
  [true, { TERM: 'dumb' }, false],
]
for (const [isTTY, env, want] of colours) {
  test(`useColour: tty ${isTTY}, env ${JSON.stringify(env)} -> ${want}`, () =>
    assert.equal(useColour({ isTTY }, env), want))
}
