// gRPC through the real CLI and a real nginx: three instances of the demo gRPC server behind
// nginx's HTTP/2 port, made ready through the standard health service.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import os from 'node:os'
import { decodeMessage, encodeMessage, grpcHealthCheck, int, text, unaryCall } from '../../lib/probe/grpc.ts'
import { resolveHome } from '../../lib/core/home.ts'
import { findNginx } from '../../lib/proxy/nginx/install.ts'
import { freePorts, listening, useHome } from '../helpers.ts'

const nginx = findNginx(resolveHome({}, os.tmpdir(), 'bm-no-such-home'), process.env)
const noNginx = 'no nginx installed (make install-nginx)'

interface Reply {
  message: string
  server: string
  instance: number
  port: number
}

async function echo(target: string, message: string): Promise<Reply> {
  const result = await unaryCall(target, '/demo.Echo/Echo', encodeMessage({ 1: message }), 5000)
  if (!result.ok) throw new Error(`Echo through ${target}: ${result.status} ${result.details}`)
  const d = decodeMessage(result.value)
  return { message: text(d, 1), server: text(d, 2), instance: int(d, 3), port: int(d, 4) }
}

test('three gRPC instances behind nginx: ready via grpc.health.v1, unary calls reach each in turn', async (t) => {
  if (!nginx) return t.skip(noNginx)
  const home = useHome(t, 'bm-grpc-e2e-')
  const base = await freePorts(6)
  const [plain, grpcFront, httpFront] = [base + 3, base + 4, base + 5]
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: httpFront, grpc_port: grpcFront },
    servers: [
      {
        name: 'pricer',
        command: 'node --import tsx examples/grpc-server.ts',
        port: base,
        instances: 3,
        protocol: 'grpc',
      },
      // A gRPC server without the health service, kept out of the proxy: readiness falls back to TCP.
      {
        name: 'plain',
        command: 'node --import tsx examples/grpc-server.ts',
        port: plain,
        protocol: 'grpc',
        behind_proxy: false,
        env: { GRPC_HEALTH: 'off' },
      },
    ],
  })
  const started = await home.cli(['start', config])
  assert.equal(started.code, 0, started.stdout + started.stderr)
  for (let i = 0; i < 3; i++)
    assert.match(
      started.stdout,
      new RegExp(`^ready +pricer-${i} +pid \\d+ port ${base + i} in \\d+ ms \\(grpc SERVING\\)$`, 'm'),
    )
  assert.match(started.stdout, /^ready +plain-0 .*\(tcp ok \(no gRPC health service\)\)$/m)
  assert.match(
    started.stdout,
    new RegExp(`nginx on 127\\.0\\.0\\.1:${grpcFront} \\(gRPC\\)`),
    'only the gRPC port: no HTTP server is behind the proxy',
  )
  assert.equal(await listening(httpFront), false, 'no HTTP listener without HTTP servers')
  for (let i = 0; i < 3; i++) {
    assert.match(
      home.readLog(`pricer-${i}.log`),
      /\/grpc\.health\.v1\.Health\/Check service="": SERVING/,
      `pricer-${i} was asked by the health service`,
    )
  }

  const replies: Reply[] = []
  for (let i = 0; i < 9; i++) replies.push(await echo(`127.0.0.1:${grpcFront}`, `call ${i}`))
  assert.ok(
    replies.every((r, i) => r.server === 'pricer' && r.message === `call ${i}`),
    JSON.stringify(replies),
  )
  assert.deepEqual(new Set(replies.map((r) => r.port)), new Set([base, base + 1, base + 2]), 'every instance answered')
  for (let i = 1; i < replies.length; i++)
    assert.notEqual(
      replies[i].instance,
      replies[i - 1].instance,
      `round-robin: ${replies.map((r) => r.instance).join(',')}`,
    )

  const viaProxy = await grpcHealthCheck('127.0.0.1', grpcFront, 2000)
  assert.deepEqual(viaProxy, { status: 'SERVING' }, 'the health service answers through nginx too')
  const health = await home.cli(['health'])
  assert.equal(health.code, 0, health.stdout + health.stderr)
  assert.match(health.stdout, new RegExp(`^pricer +proxy +ok +grpc SERVING +grpc://127\\.0\\.0\\.1:${grpcFront}$`, 'm'))
  assert.match(health.stdout, new RegExp(`^pricer-0 +direct +ok +grpc SERVING +grpc://127\\.0\\.0\\.1:${base}$`, 'm'))
  const status = await home.cli(['status'])
  assert.equal(status.code, 0, status.stdout + status.stderr)

  const stopped = await home.cli(['stop'])
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr)
  for (let port = base; port < base + 6; port++) assert.equal(await listening(port), false, `port ${port} is free`)
})

test('a gRPC server that is not SERVING never becomes ready; start names it and stops it', async (t) => {
  const home = useHome(t, 'bm-grpc-notready-')
  const base = await freePorts(1)
  const config = home.writeConfig({
    proxy: { type: 'none' },
    servers: [
      {
        name: 'rpc',
        command: ['node', 'test/fixtures/grpc-not-serving.mjs'],
        port: base,
        protocol: 'grpc',
        ready_timeout: 2,
      },
    ],
  })
  const started = await home.cli(['start', config])
  assert.equal(started.code, 1, started.stdout + started.stderr)
  assert.match(started.stderr, /rpc-0 did not become ready: not ready within 2 s \(last check: grpc NOT_SERVING\)/)
  assert.equal(await listening(base), false, 'what was started is stopped again')
})
