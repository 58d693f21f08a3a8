// commandIO: what every command that starts or stops a stack passes down, built in one place.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { commandIO } from '../../lib/cli/command-io.ts'
import { resolveHome } from '../../lib/core/home.ts'

function captured() {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (chunk) => (text += chunk))
  return { stream, text: () => text }
}

test('commandIO: progress lines on stdout, notices and waits on stderr, with the home and env of the context', () => {
  const out = captured()
  const err = captured()
  const home = resolveHome({}, '/tmp', '/tmp/bm-command-io')
  const env = { NO_COLOR: '1' }
  const io = commandIO({ env, cwd: '/tmp', home, stdout: out.stream, stderr: err.stream })
  assert.equal(io.home, home)
  assert.equal(io.env, env)
  io.progress?.({ type: 'ready', id: 'api-0', pid: 42, port: 8001, ms: 7, detail: 'HTTP 200' })
  io.notice?.('stopping what was started')
  io.onWait?.('api-0 to exit')
  assert.equal(out.text(), `ready    ${'api-0'.padEnd(20)} pid 42 port 8001 in 7 ms (HTTP 200)\n`)
  assert.equal(err.text(), 'stopping what was started\nwaiting for api-0 to exit\n')
})
