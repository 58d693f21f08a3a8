// start --foreground as a container's entrypoint: the command the package installs, run as PID 1 of a new pid
// namespace (unshare --fork --pid --mount-proc, as a container runtime starts it), stops on SIGTERM or SIGINT,
// reaps the orphans its servers leave behind, and passes the stack's exit status on.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import test, { type TestContext } from 'node:test'
import {
  fixtureServer,
  freePorts,
  httpGet,
  listening,
  procStat,
  repoRoot,
  testStateHome,
  TestHome,
  waitFor,
  type CliResult,
  type ConfigYaml,
} from '../helpers.ts'

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'))
const command = path.join(repoRoot, pkg.bin['backend-manager'])

function unshareRefused(): string | undefined {
  if (process.platform !== 'linux') return 'pid namespaces are Linux only'
  const r = spawnSync('unshare', ['--fork', '--pid', '--mount-proc', 'true'], { encoding: 'utf8' })
  if (r.error) return `unshare not found (${r.error.message})`
  return r.status === 0 ? undefined : `unshare --pid not permitted here: ${r.stderr.trim()}`
}
const refused = unshareRefused()

interface Contained {
  // PID 1 of the namespace, by its pid outside it.
  init: number
  output(): string
  done: Promise<CliResult>
}

// `start --foreground CONFIG` as PID 1 of a new pid namespace; returns once every process is ready.
async function startContained(t: TestContext, home: TestHome, config: string, entry = [command]): Promise<Contained> {
  const child = spawn('unshare', ['--fork', '--pid', '--mount-proc', ...entry, 'start', '--foreground', config], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: testStateHome, BACKEND_MANAGER_HOME: home.root },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr })),
  )
  const children = () => fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim()
  const init = Number(await waitFor(() => child.exitCode === null && children(), 10_000, 'the namespace to start'))
  const initStart = procStat(init)?.startTime
  t.after(async () => {
    // Killing PID 1 of a namespace kills every process in it.
    if (procStat(init)?.startTime === initStart) process.kill(init, 'SIGKILL')
    await done
    await home.cleanup()
  })
  const output = () => `${stdout}\n${stderr}`
  await waitFor(() => / ready; /.test(stdout) || child.exitCode !== null, 60_000, 'the stack to be ready')
  assert.match(stdout, / ready; /, output())
  return { init, output, done }
}

// Children of `pid` that have exited and wait to be reaped.
function zombiesUnder(pid: number): number[] {
  const zombies: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state === 'Z' && Number(ppid) === pid) zombies.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return zombies
}

async function stoppedCleanly(home: TestHome, result: CliResult, ports: number[]): Promise<void> {
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`)
  assert.match(result.stdout, /stopped \d+ process(es)? in \d+ ms; all ports released/)
  for (const port of ports) assert.equal(await listening(port), false, `port ${port} is free`)
  assert.deepEqual(home.processes(), [], 'no process of the stack is left')
  assert.equal(fs.existsSync(home.statePath), false, 'the state file is removed')
}

test(
  'as PID 1: orphans are reaped, SIGTERM stops every process (nginx too) and exits 0',
  { skip: refused },
  async (t) => {
    const home = new TestHome()
    const base = await freePorts(3)
    const config: ConfigYaml = {
      proxy: { type: 'nginx', port: base + 2 },
      servers: [
        fixtureServer('web', 'http-server.mjs', base),
        fixtureServer('orphaner', 'orphaner.mjs', base + 1, { behind_proxy: false }),
      ],
    }
    const stack = await startContained(t, home, home.writeConfig(config))
    assert.equal((await httpGet(`http://127.0.0.1:${base + 2}/`)).status, 200)
    // Each answer comes once its orphan (re-parented to PID 1) has exited.
    for (let i = 0; i < 2; i++) assert.match((await httpGet(`http://127.0.0.1:${base + 1}/orphan`)).body, /exited/)
    await waitFor(() => zombiesUnder(stack.init).length === 0, 5_000, `PID 1 (${stack.init}) to reap its orphans`)

    process.kill(stack.init, 'SIGTERM')
    await stoppedCleanly(home, await stack.done, [base, base + 1, base + 2])
  },
)

test('as PID 1: SIGINT stops the stack once, a second one changes nothing; exit 0', { skip: refused }, async (t) => {
  const home = new TestHome()
  const port = await freePorts(1)
  // It ignores SIGTERM, so the stop lasts its stop_timeout: time for a second Ctrl+C (a terminal's and the init's).
  const config = home.writeConfig({ servers: [fixtureServer('web', 'stubborn.mjs', port)] })
  const stack = await startContained(t, home, config)
  process.kill(stack.init, 'SIGINT')
  await waitFor(() => /stubborn: got SIGTERM/.test(stack.output()), 15_000, 'the stop to begin')
  process.kill(stack.init, 'SIGINT')
  const result = await stack.done
  await stoppedCleanly(home, result, [port])
  assert.match(result.stderr, /^killed after stop_timeout: web-0$/m)
})

test('as PID 1: a stack that stops itself (on_failure: stop-all) exits 1', { skip: refused }, async (t) => {
  const home = new TestHome()
  const port = await freePorts(1)
  const config: ConfigYaml = {
    on_failure: 'stop-all',
    servers: [fixtureServer('fragile', 'exits-on-request.mjs', port, { restart: 'no' })],
  }
  const stack = await startContained(t, home, home.writeConfig(config))
  await httpGet(`http://127.0.0.1:${port}/exit/3`)
  const result = await stack.done
  assert.equal(result.code, 1, stack.output())
  assert.match(result.stderr, /fragile-0 failed for good \(exited with code 3\)/)
  assert.equal(await listening(port), false)
})

test('node itself as PID 1 says that it does not reap orphans, and stops on SIGTERM', { skip: refused }, async (t) => {
  const home = new TestHome()
  const config = home.writeConfig({
    servers: [{ name: 'worker', command: 'sleep 60', health: 'none', stop_timeout: 0.5 }],
  })
  const stack = await startContained(t, home, config, [
    process.execPath,
    path.join(repoRoot, 'bin', 'backend-manager.js'),
  ])
  process.kill(stack.init, 'SIGTERM')
  const result = await stack.done
  assert.equal(result.code, 0, stack.output())
  assert.match(result.stderr, /^note: node is PID 1 here, and it never reaps orphaned processes/m)
})

test('as PID 1: the CLI reads the same stdin (mcp answers on stdio)', { skip: refused }, async (t) => {
  const home = new TestHome()
  t.after(() => home.cleanup())
  const child = spawn('unshare', ['--fork', '--pid', '--mount-proc', command, 'mcp'], {
    env: { ...process.env, XDG_STATE_HOME: testStateHome, BACKEND_MANAGER_HOME: home.root },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  const params = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } }
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params }) + '\n')
  await waitFor(() => stdout.includes('\n') || child.exitCode !== null, 30_000, 'the answer to initialize')
  child.stdin.end()
  assert.equal(JSON.parse(stdout.split('\n')[0]).result.serverInfo.name, 'backend-manager')
  assert.equal(await exited, 0)
})
