// The health mapping and max_memory: defaults, the string form, command checks, sizes, and what is refused.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../lib/config/load.ts'
import { resolvePlan, type Plan } from '../../lib/config/plan.ts'
import { formatSize, parseSize } from '../../lib/config/size.ts'
import { BackendManagerError } from '../../lib/core/errors.ts'

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-health-config-')))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

let counter = 0
function write(yaml: string): string {
  const file = path.join(dir, `stack-${counter++}.yaml`)
  fs.writeFileSync(file, yaml)
  return file
}

const plan = (yaml: string): Plan => resolvePlan(loadConfig(write(yaml)))
const spec = (yaml: string, id = 'api-0') => plan(yaml).processes.find((p) => p.id === id)!

function refused(yaml: string): string {
  try {
    loadConfig(write(yaml))
  } catch (error) {
    assert.ok(error instanceof BackendManagerError && error.code === 'CONFIG', String(error))
    return error.message
  }
  assert.fail('expected the config to be refused')
}

test('sizes: bytes, K, M and G (powers of 1024), with or without B; anything else is not a size', () => {
  const cases: [unknown, number | undefined][] = [
    [1048576, 1048576],
    ['100', 100],
    ['800K', 800 * 1024],
    ['512M', 512 * 1024 ** 2],
    ['512m', 512 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2GB', 2 * 1024 ** 3],
    ['64 MiB', 64 * 1024 ** 2],
    [0, undefined],
    [-5, undefined],
    [1.5, undefined],
    ['', undefined],
    ['12T', undefined],
    ['M', undefined],
    ['ten', undefined],
    [true, undefined],
  ]
  for (const [given, bytes] of cases) assert.equal(parseSize(given), bytes, JSON.stringify(given))
  assert.equal(formatSize(212 * 1024 ** 2 + 5000), '212M')
  assert.equal(formatSize(100 * 1024 ** 2), '100M')
  assert.equal(formatSize(1.5 * 1024 ** 3), '1.5G')
  assert.equal(formatSize(800 * 1024), '800K')
})

test('the string form is the check with the default timings; start_period defaults to ready_timeout', () => {
  const s = spec('servers:\n  - { name: api, command: x, port: 9000, health: /health, ready_timeout: 12 }\n')
  assert.deepEqual(s.readiness, { kind: 'http', path: '/health' })
  assert.deepEqual(s.health, {
    check: { kind: 'http', path: '/health' },
    intervalMs: 5000,
    timeoutMs: 2000,
    retries: 3,
    startPeriodMs: 12_000,
  })
  assert.deepEqual(spec('servers:\n  - { name: api, command: x, port: 9000 }\n').health?.check, { kind: 'tcp' })
  assert.equal(spec('servers:\n  - { name: api, command: x, port: 9000, health: none }\n').health, undefined)
  assert.equal(spec('servers:\n  - { name: api, command: x }\n').health, undefined, 'portless: none by default')
})

test('the mapping: every timing in seconds, a path check is also the readiness check', () => {
  const s = spec(
    'servers:\n  - name: api\n    command: x\n    port: 9000\n' +
      '    health: { check: /live, interval: 0.5, timeout: 1, retries: 2, start_period: 4 }\n',
  )
  assert.deepEqual(s.readiness, { kind: 'http', path: '/live' })
  assert.deepEqual(s.health, {
    check: { kind: 'http', path: '/live' },
    intervalMs: 500,
    timeoutMs: 1000,
    retries: 2,
    startPeriodMs: 4000,
  })
  const grpc = spec('servers:\n  - { name: api, command: x, port: 9000, protocol: grpc, health: { check: tcp } }\n')
  assert.deepEqual(grpc.health?.check, { kind: 'grpc' })
})

test('a command check: a list runs without a shell, a string through /bin/sh; readiness is the port or none', () => {
  const worker = spec(
    'servers:\n  - name: worker\n    command: x\n    instances: 2\n' +
      '    health: { check: [python3, check.py, --id, "{instance}"], retries: 5 }\n',
    'worker-1',
  )
  assert.deepEqual(worker.readiness, { kind: 'none' })
  assert.deepEqual(worker.health?.check, {
    kind: 'command',
    argv: ['python3', 'check.py', '--id', '1'],
    command: 'python3 check.py --id 1',
  })
  assert.equal(worker.health?.retries, 5)
  const api = spec('servers:\n  - { name: api, command: x, port: 9000, health: { check: "curl -fs :{port}/x" } }\n')
  assert.deepEqual(api.readiness, { kind: 'tcp' })
  assert.deepEqual(api.health?.check, {
    kind: 'command',
    argv: ['/bin/sh', '-c', 'exec curl -fs :9000/x'],
    command: 'curl -fs :9000/x',
  })
})

test('max_memory: bytes or a suffix, resolved to bytes in the plan', () => {
  assert.equal(spec('servers:\n  - { name: api, command: x, max_memory: 100M }\n').maxMemoryBytes, 100 * 1024 ** 2)
  assert.equal(spec('servers:\n  - { name: api, command: x, max_memory: 4096 }\n').maxMemoryBytes, 4096)
  assert.equal(spec('servers:\n  - { name: api, command: x }\n').maxMemoryBytes, undefined)
})

test('bad health mappings and sizes are refused, each naming the key, the value and what was expected', () => {
  const at = (yaml: string) => refused(`servers:\n  - { name: api, command: x, port: 9000, ${yaml} }\n`)
  assert.match(
    at('health: { check: /h, intervall: 2 }'),
    /servers\[0\]\.health\.intervall: unknown key \(did you mean "interval"\?\), expected one of check, interval/,
  )
  assert.match(
    at('health: { check: /h, interval: 0 }'),
    /servers\[0\]\.health\.interval: 0 is out of range, expected a number of seconds from 0\.1 to 3600/,
  )
  assert.match(
    at('health: { check: /h, retries: 1.5 }'),
    /servers\[0\]\.health\.retries: 1\.5 is not a whole number, expected a whole number from 1 to 1000/,
  )
  assert.match(at('health: { interval: 2 }'), /servers\[0\]\.health\.check: missing, expected an HTTP path/)
  assert.match(at('health: [a, b]'), /servers\[0\]\.health: \["a","b"\] is not a string or a mapping, expected/)
  assert.match(at('health: healthz'), /servers\[0\]\.health: "healthz" is not a safe health check/)
  assert.match(at('health: { check: "/a b" }'), /servers\[0\]\.health: "\/a b" is not a safe health check/)
  assert.match(
    at('max_memory: 12T'),
    /servers\[0\]\.max_memory: "12T" is not a size, expected a size in bytes, or with a K, M or G suffix like "512M"/,
  )
  assert.match(
    refused('servers:\n  - { name: w, command: x, health: { check: /h } }\n'),
    /servers\[0\]\.health: "\/h" needs a port but "w" has none/,
  )
})
