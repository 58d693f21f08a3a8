import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseEnvFile } from '../../lib/config/env-file.ts'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan } from '../../lib/config/plan.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-env-file-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

function write(name: string, text: string): string {
  const file = path.join(dir, name)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
  return file
}

function configError(file: string): string {
  try {
    loadConfig(file, { env: {} })
  } catch (error) {
    assert.ok(error instanceof BackendManagerError && error.code === 'CONFIG', String(error))
    assert.equal(error.exitCode, 2)
    return error.message
  }
  assert.fail('expected the config to be rejected')
}

test('dotenv lines: comments, export, quotes, escapes, inline comments, last one wins', () => {
  const { values, problems } = parseEnvFile(
    [
      '\uFEFF# a comment',
      '',
      'PLAIN=value',
      'export EXPORTED=yes',
      '  SPACED = padded value  ',
      'INLINE=abc # a comment',
      'HASH=a#b',
      'DOUBLE="two words # not a comment"  # comment',
      'ESCAPED="line1\\nline2 \\"q\\" \\$HOME"',
      "SINGLE='raw \\n $HOME'",
      'MULTI="first',
      'second"',
      'EMPTY=',
      'EMPTY_QUOTED=""',
      'URL=postgres://u:p@host:5432/db?x=1',
      'PLAIN=again',
      'CRLF=yes\r',
    ].join('\n'),
  )
  assert.deepEqual(problems, [])
  assert.deepEqual(values, {
    PLAIN: 'again',
    EXPORTED: 'yes',
    SPACED: 'padded value',
    INLINE: 'abc',
    HASH: 'a#b',
    DOUBLE: 'two words # not a comment',
    ESCAPED: 'line1\nline2 "q" $HOME',
    SINGLE: 'raw \\n $HOME',
    MULTI: 'first\nsecond',
    EMPTY: '',
    EMPTY_QUOTED: '',
    URL: 'postgres://u:p@host:5432/db?x=1',
    CRLF: 'yes',
  })
})

test('dotenv problems name the line and what was expected', () => {
  const { values, problems } = parseEnvFile('GOOD=1\nnot a line\n1BAD=x\nQ="open\n')
  assert.deepEqual(values, { GOOD: '1' })
  assert.deepEqual(problems, [
    'line 2: "not a line" is not KEY=value, expected NAME=value',
    'line 3: "1BAD=x" is not KEY=value, expected NAME=value',
    'line 4: Q has no closing ", expected the value to end with "',
  ])
  assert.match(parseEnvFile('A="x" trailing\n').problems[0], /line 1: "trailing" after the quoted value of A/)
})

test('env_file (string or list, relative to the config) fills env under the config own env', () => {
  write('stack/common.env', 'SHARED=common\nOVERRIDDEN=from-file\nLATER=first\n')
  write('stack/secrets/api.env', 'export TOKEN="s3cr3t"\nLATER=second\nPORT=1\nHOST=0.0.0.0\n')
  const file = write(
    'stack/config.yaml',
    `servers:
  - name: api
    command: run
    port: 9100
    env_file: [common.env, secrets/api.env]
    env: { OVERRIDDEN: from-config }
  - name: worker
    command: work
    env_file: secrets/api.env
`,
  )
  const plan = resolvePlan(loadConfig(file, { env: {} }))
  const api = plan.processes.find((p) => p.id === 'api-0')!
  assert.equal(api.env.SHARED, 'common')
  assert.equal(api.env.OVERRIDDEN, 'from-config')
  assert.equal(api.env.LATER, 'second')
  assert.equal(api.env.TOKEN, 's3cr3t')
  // What the manager sets itself stays the manager's: a shared .env with PORT does not move the server.
  assert.equal(api.env.PORT, '9100')
  assert.equal(api.env.HOST, '127.0.0.1')
  const worker = plan.processes.find((p) => p.id === 'worker-0')!
  assert.equal(worker.env.TOKEN, 's3cr3t')
  // A server without a port gets no PORT from the manager: the file's is kept.
  assert.equal(worker.env.PORT, '1')
})

test('a missing or broken env_file is a config error naming the file, key and line', () => {
  write('bad/broken.env', 'OK=1\noops\n')
  const file = write(
    'bad/config.yaml',
    `servers:
  - name: api
    command: run
    env_file: [nope.env, broken.env]
`,
  )
  const message = configError(file)
  assert.match(
    message,
    new RegExp(`servers\\[0\\]\\.env_file: "${dir}/bad/nope\\.env" does not exist, expected a dotenv file`),
  )
  assert.match(
    message,
    new RegExp(`servers\\[0\\]\\.env_file: ${dir}/bad/broken\\.env: line 2: "oops" is not KEY=value`),
  )
  const shape = write('bad/shape.yaml', 'servers:\n  - { name: web, command: run, env_file: 42 }\n')
  assert.match(
    configError(shape),
    /servers\[0\]\.env_file: 42 is not a path or a list, expected a dotenv file path or a list of them/,
  )
})
