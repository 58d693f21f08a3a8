// End-to-end checks of what a new user meets first: what start runs, says and shows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { freePorts, listening, useHome, type ServerYaml } from './helpers.ts'

const httpServer = (name: string, port: number, extra: Partial<ServerYaml> = {}): ServerYaml => ({
  name,
  command: 'node test/fixtures/http-server.mjs',
  port,
  health: '/health',
  stop_timeout: 0.5,
  ready_timeout: 10,
  ...extra,
})
const worker = (name: string, extra: Partial<ServerYaml> = {}): ServerYaml => ({ name, command: ['sleep', '600'], health: 'none', stop_timeout: 0.5, ...extra })

test('start --only with no selected server behind the proxy starts no proxy', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = home.writeConfig({ proxy: { type: 'nginx', host: '127.0.0.1', port: base + 1 }, servers: [httpServer('core', base), worker('worker')] })
  const r = await home.cli(['start', config, '--only', 'worker'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.doesNotMatch(r.stdout, /nginx/)
  assert.deepEqual(home.state()!.processes.map((p) => p.id), ['worker-0'])
  assert.equal(await listening(base + 1), false, 'something listens on the proxy port')
  const stopped = await home.cli(['stop'])
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr)
})
