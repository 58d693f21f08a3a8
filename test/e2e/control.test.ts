// The control socket, end to end: a real supervisor answers JSON over HTTP on run/control.sock (0600), the same
// status that `status --json` prints; `status` works without it; the socket never follows a planted link.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fixtureServer, freePorts, pidGone, startOk, stopOk, useHome, waitFor, type TestHome } from '../helpers.ts'

interface Answer {
  status: number
  body: any
}

function ask(socketPath: string, method: string, route: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: route, timeout: 10_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer on ${socketPath} ${route}`)))
    req.on('error', reject)
    req.end(body)
  })
}

// What changes from one moment to the next (uptime, CPU, memory) left out; everything else must be equal.
function steady(status: any): any {
  return {
    ...status,
    processes: status.processes.map((p: any) => ({
      ...p,
      uptimeMs: typeof p.uptimeMs,
      cpuPercent: null,
      rssBytes: null,
    })),
  }
}

const socketOf = (home: TestHome) => path.join(home.root, 'run', 'control.sock')

// Started, healthy, and its supervisor serving the socket (it takes over just after start returns).
async function startApi(home: TestHome): Promise<string> {
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('api', 'http-server.mjs', port)] })
  await startOk(home, config)
  await home.statusUntilHealthy()
  await waitFor(() => fs.lstatSync(socketOf(home), { throwIfNoEntry: false })?.isSocket(), 10_000, 'the socket')
  return config
}

async function statusJson(home: TestHome): Promise<any> {
  const r = await home.cli(['status', '--json'])
  assert.ok(r.code === 0 || r.code === 1, r.stderr)
  return JSON.parse(r.stdout)
}

test('GET /v1/status on run/control.sock (0600) is what status --json prints, with or without the socket', async (t) => {
  const home = useHome(t, 'bm-control-')
  await startApi(home)
  const socket = socketOf(home)
  const stat = fs.lstatSync(socket)
  assert.ok(stat.isSocket(), 'run/control.sock is a socket')
  assert.equal(stat.mode & 0o777, 0o600)

  const answer = await ask(socket, 'GET', '/v1/status')
  assert.equal(answer.status, 200)
  assert.equal(answer.body.running, true)
  assert.deepEqual(steady(answer.body), steady(await statusJson(home)))

  const unknown = await ask(socket, 'GET', '/v1/nope')
  assert.equal(unknown.status, 404)
  assert.equal(unknown.body.error.code, 'NOT_FOUND')
  assert.ok(unknown.body.error.routes.includes('GET /v1/status'), JSON.stringify(unknown.body))
  assert.ok(unknown.body.error.routes.includes('POST /v1/logs/clean'), JSON.stringify(unknown.body))
  assert.equal((await ask(socket, 'POST', '/v1/status')).status, 405)
  const bad = await ask(socket, 'POST', '/v1/logs/clean', '[1, 2')
  assert.equal(bad.status, 400)
  assert.equal(bad.body.error.code, 'USAGE')
  assert.match(bad.body.error.message, /must be a JSON object, got \[1, 2/)

  // The socket moved away: the CLI reads the state file and prints the same, while the supervisor still answers.
  const aside = path.join(home.root, 'run', 'aside.sock')
  fs.renameSync(socket, aside)
  const fromFile = await statusJson(home)
  assert.deepEqual(steady(fromFile), steady((await ask(aside, 'GET', '/v1/status')).body))
  fs.renameSync(aside, socket)

  const supervisor = home.state()!.supervisor.pid
  await stopOk(home)
  await waitFor(() => pidGone(supervisor), 10_000, 'the supervisor to exit')
  assert.equal(fs.existsSync(socket), false, 'run/control.sock is removed when the supervisor exits')
})

test('POST /v1/logs/clean truncates the log files through the supervisor', async (t) => {
  const home = useHome(t, 'bm-control-')
  await startApi(home)
  const unified = home.logFile('backend-unified.log')
  await waitFor(() => fs.statSync(unified).size > 0, 10_000, 'lines in the unified log')
  const answer = await ask(socketOf(home), 'POST', '/v1/logs/clean')
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
  assert.ok(answer.body.files >= 2, JSON.stringify(answer.body))
  assert.equal(fs.statSync(home.logFile('api-0.log')).size, 0)
  // The CLI takes the same route and says so the same way.
  const cli = await home.cli(['logs', 'clean'])
  assert.equal(cli.code, 0, cli.stderr)
  assert.match(cli.stdout, /^cleaned \d+ log files in /)
})

test('a link planted at run/control.sock is replaced, never followed', async (t) => {
  const home = useHome(t, 'bm-control-')
  const target = path.join(home.root, 'target.txt')
  fs.writeFileSync(target, 'keep me\n')
  fs.mkdirSync(path.join(home.root, 'run'), { mode: 0o700 })
  fs.symlinkSync(target, socketOf(home))
  await startApi(home)
  assert.ok(fs.lstatSync(socketOf(home)).isSocket(), 'the link was replaced by the socket')
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep me\n')
  assert.equal(fs.lstatSync(target).mode & 0o777, 0o644 & ~process.umask())
  assert.equal((await ask(socketOf(home), 'GET', '/v1/status')).status, 200)
})

test('status works with the supervisor SIGKILLed; the next supervisor replaces its stale socket', async (t) => {
  const home = useHome(t, 'bm-control-')
  const config = await startApi(home)
  const supervisor = home.state()!.supervisor
  process.kill(supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(supervisor.pid), 10_000, 'the supervisor to die')
  assert.ok(fs.lstatSync(socketOf(home)).isSocket(), 'a dead supervisor leaves its socket behind')
  const r = await home.cli(['status', '--json'])
  assert.equal(r.code, 1, r.stderr)
  const status = JSON.parse(r.stdout)
  assert.equal(status.processes[0].state, 'gone')
  assert.equal(status.processes.find((p: any) => p.id === 'api-0').state, 'running')
  assert.equal((await home.cli(['status'])).code, 1)

  // start adopts the running server under a new supervisor, which serves the socket again.
  await startOk(home, config)
  const answer = await waitFor(
    () => ask(socketOf(home), 'GET', '/v1/status').catch(() => undefined),
    10_000,
    'the new supervisor to answer',
  )
  assert.equal(answer.body.processes[0].pid, home.state()!.supervisor.pid)
  assert.notEqual(answer.body.processes[0].pid, supervisor.pid)
})

test('start --foreground serves the same socket, removed when Ctrl+C stops it', async (t) => {
  const home = useHome(t, 'bm-control-')
  const port = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('api', 'http-server.mjs', port)] })
  const fg = home.spawnCli(['start', config, '--foreground'])
  await waitFor(() => fg.output().stdout.includes('Ctrl+C stops everything'), 20_000, 'the foreground start')
  const answer = await ask(socketOf(home), 'GET', '/v1/status')
  assert.equal(answer.status, 200)
  assert.deepEqual(
    answer.body.processes.map((p: any) => p.id),
    ['supervisor', 'api-0'],
  )
  assert.equal(fs.lstatSync(socketOf(home)).mode & 0o777, 0o600)
  process.kill(-fg.child.pid!, 'SIGINT')
  const r = await fg.done
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.equal(fs.existsSync(socketOf(home)), false, 'run/control.sock is removed when the foreground run ends')
})

test('GET /v1/events replays what the supervisor did as JSON lines, then follows it', async (t) => {
  const home = useHome(t, 'bm-control-events-')
  await startApi(home)
  const socket = socketOf(home)
  const kept = await new Promise<string>((resolve, reject) => {
    http
      .get({ socketPath: socket, path: '/v1/events?follow=0', timeout: 10_000 }, (res) => {
        assert.equal(res.headers['content-type'], 'application/x-ndjson')
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => (text += chunk))
        res.on('end', () => resolve(text))
      })
      .on('error', reject)
  })
  const events = kept
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  const pid = (await statusJson(home)).processes.find((p: any) => p.id === 'api-0').pid
  assert.ok(
    events.some((e) => e.kind === 'spawn' && e.id === 'api-0' && e.pid === pid),
    kept,
  )
  assert.ok(
    events.some((e) => e.kind === 'ready' && e.id === 'api-0'),
    kept,
  )

  // Followed: the stop's exit event arrives on a stream opened before it.
  const seen: any[] = []
  const since = Math.max(...events.map((e) => e.time))
  const req = http.get({ socketPath: socket, path: `/v1/events?since=${since}` }, (res) => {
    res.setEncoding('utf8')
    let rest = ''
    res.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop()!
      for (const line of lines) seen.push(JSON.parse(line))
    })
  })
  req.on('error', () => {})
  t.after(() => req.destroy())
  await stopOk(home)
  await waitFor(() => seen.some((e) => e.kind === 'exit' && e.id === 'api-0'), 10_000, 'the exit event')
  assert.ok(!seen.some((e) => e.kind === 'spawn'), 'nothing older than ?since is replayed')
})
