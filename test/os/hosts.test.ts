import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bareHost, connectHost } from '../../lib/os/hosts.ts'

const cases: [string, string, string][] = [
  // host in the config, what a program binds, where probes and upstreams connect
  ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
  ['0.0.0.0', '0.0.0.0', '127.0.0.1'],
  ['::', '::', '::1'],
  ['[::]', '::', '::1'],
  ['[::1]', '::1', '::1'],
  ['localhost', 'localhost', 'localhost'],
  ['10.1.2.3', '10.1.2.3', '10.1.2.3'],
]

for (const [host, bare, connect] of cases) {
  test(`host ${host}: binds ${bare}, reached at ${connect}`, () => {
    assert.equal(bareHost(host), bare)
    assert.equal(connectHost(host), connect)
  })
}
