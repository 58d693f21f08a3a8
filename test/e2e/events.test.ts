// Supervisor events (spawn, ready, exit, restart, crash, proxy reload) as `supervisor` lines of the unified log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  crashingStack,
  fixtureServer,
  freePorts,
  pidGone,
  startOk,
  stopOk,
  useHome,
  waitFor,
  type TestHome,
} from '../helpers.ts'

const EVENT = /^supervisor {10}>> (.*)$/

const unified = (home: TestHome) => home.readLog('backend-unified.log')

// The unified log's lines, and where the first line matching each pattern (each after the one before) is.
function inOrder(lines: string[], patterns: RegExp[]): number[] {
  const at: number[] = []
  let from = 0
  for (const p of patterns) {
    const i = lines.findIndex((line, n) => n >= from && p.test(line))
    assert.ok(i >= 0, `no line matching ${p} after line ${from}:\n${lines.join('\n')}`)
    at.push(i)
    from = i + 1
  }
  return at
}

test('a crashing server: its spawn, exit code, restart delay and crash are supervisor lines, in order', async (t) => {
  const home = useHome(t)
  const base = await freePorts(2)
  const config = crashingStack(home, base)
  await startOk(home, config)
  await waitFor(() => /^supervisor +>> crasher-0 crashed/m.test(unified(home)), 30_000, 'the crash line')
  const lines = unified(home).split('\n')
  const [spawned, said, exited, restart, crashed] = inOrder(lines, [
    /^supervisor {10}>> crasher-0 spawned pid \d+ port \d+$/,
    /^crasher-0 {11}!> crasher: something went wrong/,
    /^supervisor {10}>> crasher-0 pid \d+ exited with code 1$/,
    /^supervisor {10}>> crasher-0 restarting in \d+ ms \(restart \d+ of at most 2 in a row\)$/,
    /^supervisor {10}>> crasher-0 crashed: exited with code 1; gave up after 2 restarts \(max_restarts 2\)$/,
  ])
  assert.ok(spawned < said && said < exited && exited < restart && restart < crashed)
  assert.match(unified(home), /^supervisor {10}>> steady-0 ready pid \d+ port \d+ in \d+ ms \(HTTP 200\)$/m)
  // Every exit the supervisor saw is said once, right after the last line the process printed.
  const exits = lines.filter((l) => /^supervisor +>> crasher-0 pid \d+ (exited|killed)/.test(l))
  assert.equal(exits.length, 3, exits.join('\n'))

  // `logs supervisor` shows exactly those lines.
  const shown = await home.cli(['logs', 'supervisor', '-n', '1000'])
  assert.equal(shown.code, 0, shown.stderr)
  const own = shown.stdout.trimEnd().split('\n')
  assert.deepEqual(
    own,
    lines.filter((l) => EVENT.test(l)),
  )
  assert.ok(own.some((l) => / crasher-0 crashed: /.test(l)))
  await stopOk(home)
})

test('a server killed by SIGKILL: its exit says "killed by SIGKILL" in the unified log', async (t) => {
  const home = useHome(t)
  const base = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', base, { restart: 'always' })] })
  await startOk(home, config)
  await waitFor(() => home.readLog('supervisor.log').includes('all processes ready'), 15_000, 'the supervisor')
  const first = home.record('web-0')
  process.kill(first.pid, 'SIGKILL')
  // The supervisor started it, so its exit is known, as that of every process it restarts.
  const second = await waitFor(
    () => {
      const r = home.state()?.processes.find((p) => p.id === 'web-0')
      return r && r.pid !== first.pid && r.state === 'running' && r
    },
    20_000,
    'web-0 to be restarted and ready',
  )
  assert.ok(pidGone(first.pid, first.startTime))
  process.kill(second.pid, 'SIGKILL')
  await waitFor(
    () => unified(home).includes(`supervisor          >> web-0 pid ${second.pid} killed by SIGKILL\n`),
    20_000,
    `the exit line of pid ${second.pid}`,
  )
  const lines = unified(home).split('\n')
  inOrder(lines, [
    new RegExp(`^supervisor {10}>> web-0 pid ${first.pid} killed by SIGKILL$`),
    /^supervisor {10}>> web-0 restarting in 100 ms/,
    new RegExp(`^supervisor {10}>> web-0 spawned pid ${second.pid} port ${base}$`),
    new RegExp(`^web-0 {15}>> web-0 listening on 127.0.0.1:${base} \\(pid ${second.pid}\\)$`),
    new RegExp(`^supervisor {10}>> web-0 ready pid ${second.pid} port ${base} in \\d+ ms \\(HTTP 200\\)$`),
    new RegExp(`^supervisor {10}>> web-0 pid ${second.pid} killed by SIGKILL$`),
  ])
  await stopOk(home)
})

test('nginx reloaded for a changed config is a supervisor line', async (t) => {
  const home = useHome(t)
  const base = await freePorts(3)
  const proxy = { type: 'nginx', host: '127.0.0.1', port: base + 2 }
  const a = fixtureServer('alpha', 'http-server.mjs', base)
  const config = home.writeConfig({ proxy, servers: [a] })
  await startOk(home, config)
  const nginx = home.record('nginx')
  const supervisor = home.state()!.supervisor
  process.kill(supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(supervisor.pid), 5000, 'the supervisor to die')

  // A server added while no supervisor ran: the running nginx is kept and told to read its new config.
  home.writeConfig({ proxy, servers: [a, fixtureServer('beta', 'http-server.mjs', base + 1, { modules: ['b'] })] })
  await startOk(home, config)
  assert.equal(home.record('nginx').pid, nginx.pid)
  await waitFor(() => / nginx reloaded/.test(unified(home)), 10_000, 'the reload line')
  inOrder(unified(home).split('\n'), [
    /^supervisor {10}>> beta-0 ready pid \d+/,
    new RegExp(`^supervisor {10}>> nginx adopted pid ${nginx.pid}`),
    new RegExp(`^supervisor {10}>> nginx reloaded pid ${nginx.pid} \\(its config changed\\)$`),
  ])
  const shown = await home.cli(['logs', 'supervisor'])
  assert.match(shown.stdout, / nginx reloaded pid /)
  await stopOk(home)
})

test('a server that died while no supervisor ran: its exit is said before its replacement is spawned', async (t) => {
  const home = useHome(t)
  const base = await freePorts(1)
  const config = home.writeConfig({ servers: [fixtureServer('web', 'http-server.mjs', base)] })
  await startOk(home, config)
  const { supervisor } = home.state()!
  const first = home.record('web-0')
  process.kill(supervisor.pid, 'SIGKILL')
  await waitFor(() => pidGone(supervisor.pid), 5000, 'the supervisor to die')
  process.kill(first.pid, 'SIGKILL')
  await waitFor(() => pidGone(first.pid, first.startTime), 5000, 'web-0 to die')

  await startOk(home, config)
  const second = home.record('web-0')
  assert.notEqual(second.pid, first.pid)
  inOrder(unified(home).split('\n'), [
    new RegExp(`^supervisor {10}>> web-0 pid ${first.pid} exited while unwatched \\(exit status unknown\\)$`),
    new RegExp(`^supervisor {10}>> web-0 spawned pid ${second.pid} port ${base}$`),
    new RegExp(`^supervisor {10}>> web-0 ready pid ${second.pid} `),
  ])
  await stopOk(home)
})
