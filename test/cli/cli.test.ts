import { test } from 'node:test'
import assert from 'node:assert/strict'
import { csv, parseFlags, positiveInt, useColour } from '../../lib/cli/context.ts'
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

test('parseFlags: flags and one positional; the errors name the command, the flag and what it takes', () => {
  const { values, positionals } = parseFlags('start', ['dev.yaml', '--only', 'a,b', '--foreground'], {
    only: { type: 'string' },
    foreground: { type: 'boolean' },
  })
  assert.deepEqual({ ...values }, { only: 'a,b', foreground: true })
  assert.deepEqual(positionals, ['dev.yaml'])
  assert.equal(
    usageMessage(() => parseFlags('start', ['--bogus'], { only: { type: 'string' } })),
    `start: unknown flag '--bogus'; expected --only (see "backend-manager start --help")`,
  )
  assert.equal(
    usageMessage(() => parseFlags('stop', ['x'], {}, 0)),
    'stop: unexpected argument "x"; see "backend-manager stop --help"',
  )
  assert.match(
    usageMessage(() => parseFlags('start', ['--only'], { only: { type: 'string' } })),
    /^start: .*--only.*; expected --only/,
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
