// `mcp` end to end: the SDK's own client spawns the real CLI over stdio against a temporary home and calls every
// tool, first with nothing running (an error result, not a crash), then on a real stack.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { cliEntry, fixtureServer, freePorts, repoRoot, startOk, testStateHome, useHome, waitFor } from '../helpers.ts'
import type { TestHome } from '../helpers.ts'

interface ToolAnswer {
  isError: boolean
  text: string
  json: any
}

async function connect(t: { after(fn: () => Promise<void>): void }, home: TestHome): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cliEntry, 'mcp'],
    cwd: repoRoot,
    // The server finds its home as every command does: here from the environment.
    env: {
      ...(process.env as Record<string, string>),
      NO_COLOR: '1',
      XDG_STATE_HOME: testStateHome,
      BACKEND_MANAGER_HOME: home.root,
    },
    stderr: 'inherit',
  })
  const client = new Client({ name: 'backend-manager-test', version: '0.0.0' })
  await client.connect(transport)
  home.track(transport.pid!)
  t.after(() => client.close())
  return client
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })
  const content = result.content as { type: string; text: string }[]
  const text = content.map((c) => c.text).join('')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { isError: result.isError === true, text, json }
}

async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const answer = await call(client, name, args)
  assert.equal(answer.isError, false, `${name}: ${answer.text}`)
  assert.ok(!answer.text.includes('\n'), `${name} answers compact JSON: ${answer.text.slice(0, 200)}`)
  return answer.json
}

test('mcp lists its tools and says clearly, as an error result, that no stack runs', async (t) => {
  const home = useHome(t, 'bm-mcp-none-')
  const client = await connect(t, home)
  const { tools } = await client.listTools()
  assert.deepEqual(tools.map((tool) => tool.name).sort(), ['health', 'logs', 'plan', 'restart', 'scale', 'status'])
  for (const tool of tools) assert.ok(tool.description && tool.inputSchema.type === 'object', tool.name)
  const logs = tools.find((tool) => tool.name === 'logs')!
  assert.deepEqual(Object.keys(logs.inputSchema.properties ?? {}).sort(), ['cursor', 'limit', 'server'])
  for (const name of ['status', 'logs', 'restart', 'health']) {
    const answer = await call(client, name)
    assert.equal(answer.isError, true, `${name}: ${answer.text}`)
    assert.match(answer.text, /no stack here/, name)
  }
  const scale = await call(client, 'scale', { servers: { api: 2 } })
  assert.equal(scale.isError, true)
  // The server is still there after the errors; plan needs no stack, only a config.
  assert.equal((await call(client, 'status')).isError, true)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', 7001, { instances: 2 })] })
  const plan = await ok(client, 'plan', { config })
  assert.equal(plan.running, false)
  assert.deepEqual(
    plan.processes.map((p: any) => [p.id, p.port]),
    [
      ['web-0', 7001],
      ['web-1', 7002],
    ],
  )
  const missing = await call(client, 'plan', { config: `${home.root}/nope.yaml` })
  assert.equal(missing.isError, true)
  assert.match(missing.text, /nope\.yaml/)
})

test('mcp on a running stack: status, logs with a cursor, restart, scale, health, plan', async (t) => {
  const home = useHome(t, 'bm-mcp-')
  const port = await freePorts(4)
  const config = home.writeConfig({ servers: [fixtureServer('api', 'http-server.mjs', port)] })
  await startOk(home, config)
  const client = await connect(t, home)

  const status = await ok(client, 'status')
  const api = status.processes.find((p: any) => p.id === 'api-0')
  assert.ok(api, JSON.stringify(status))
  assert.deepEqual(Object.keys(api).sort(), ['health', 'id', 'lastExit', 'pid', 'port', 'restarts', 'state'])
  assert.equal(api.port, port)
  assert.equal(api.state, 'running')
  assert.ok(status.processes.some((p: any) => p.id === 'supervisor'))

  const first = await ok(client, 'logs', { server: 'api' })
  assert.ok(
    first.lines.some((l: string) => l.includes(`listening on 127.0.0.1:${port}`)),
    first.lines.join('\n'),
  )
  assert.equal(typeof first.cursor, 'string')
  // Nothing new yet: the same cursor gives no lines.
  const none = await ok(client, 'logs', { server: 'api', cursor: first.cursor })
  assert.deepEqual(none.lines, [])

  const restarted = await ok(client, 'restart', { names: ['api'] })
  assert.equal(restarted.restarted.length, 1, JSON.stringify(restarted))
  const { oldPid, newPid } = restarted.restarted[0]
  assert.equal(oldPid, api.pid)
  assert.notEqual(newPid, api.pid)
  assert.equal((await ok(client, 'status')).processes.find((p: any) => p.id === 'api-0').pid, newPid)

  // The restarted instance says it listens again: only that is new, the first start's line is not repeated.
  const after = await waitFor(
    async () => {
      const r = await ok(client, 'logs', { server: 'api', cursor: first.cursor })
      return r.lines.some((l: string) => l.includes(`(pid ${newPid})`)) && r
    },
    30_000,
    'the restarted instance in the logs',
  )
  assert.ok(!after.lines.some((l: string) => l.includes(`(pid ${api.pid})`)), after.lines.join('\n'))
  assert.ok(
    after.lines.every((l: string) => l.startsWith('api-0')),
    after.lines.join('\n'),
  )
  assert.notEqual(after.cursor, first.cursor)

  // After `logs clean` the cursor still reads only what came after it.
  const cleaned = await home.cli(['logs', 'clean'])
  assert.equal(cleaned.code, 0, cleaned.stderr)
  const scaled = await ok(client, 'scale', { servers: { api: 2 } })
  assert.equal(scaled.servers[0].to, 2, JSON.stringify(scaled))
  const rows = (await ok(client, 'status')).processes.filter((p: any) => p.id.startsWith('api-'))
  assert.deepEqual(
    rows.map((p: any) => [p.id, p.port]),
    [
      ['api-0', port],
      ['api-1', port + 1],
    ],
  )
  const sinceClean = await waitFor(
    async () => {
      const r = await ok(client, 'logs', { cursor: after.cursor })
      return r.lines.some((l: string) => l.startsWith('api-1') && l.includes('listening')) && r
    },
    30_000,
    'the new instance in the logs after a clean',
  )
  assert.ok(!sinceClean.lines.some((l: string) => l.includes(`(pid ${newPid})`)), sinceClean.lines.join('\n'))
  const limited = await ok(client, 'logs', { cursor: after.cursor, limit: 1 })
  assert.equal(limited.lines.length, 1)
  assert.ok(limited.skipped >= 1, JSON.stringify(limited))

  const unknown = await call(client, 'logs', { server: 'nope' })
  assert.equal(unknown.isError, true)
  assert.match(unknown.text, /unknown server "nope".*api/)
  const badCursor = await call(client, 'logs', { cursor: 'garbage' })
  assert.equal(badCursor.isError, true)
  assert.match(badCursor.text, /cursor "garbage"/)

  const health = await ok(client, 'health')
  assert.deepEqual(
    health.rows.map((r: any) => [r.target, r.via, r.ok]),
    [
      ['api-0', 'direct', true],
      ['api-1', 'direct', true],
    ],
  )

  const plan = await ok(client, 'plan')
  assert.equal(plan.config, config)
  assert.equal(plan.running, true)
  assert.deepEqual(
    plan.processes.map((p: any) => [p.id, p.port]),
    [
      ['api-0', port],
      ['api-1', port + 1],
    ],
  )
  assert.ok(plan.processes.every((p: any) => !('env' in p)))
  assert.ok(Array.isArray(plan.routes))
})
