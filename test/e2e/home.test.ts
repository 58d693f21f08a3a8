// Where a stack lives: found upward from a subfolder like git finds .git, listed in the per-user registry,
// and a command run where there is none says where the stacks are and creates nothing.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import test from 'node:test'
import {
  cliEntry,
  freePorts,
  httpGet,
  pidAlive,
  repoRoot,
  runCli,
  toYaml,
  useHome,
  type CliResult,
  type RecordedState,
} from '../helpers.ts'

function tempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

// The CLI as a user runs it in a folder: no BACKEND_MANAGER_HOME, only the test's private registry.
function runIn(cwd: string, args: string[], stateHome: string): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: stateHome }
  delete env.BACKEND_MANAGER_HOME
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliEntry, ...args],
      { cwd, env, timeout: 60_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    )
  })
}

function readStateAt(home: string): RecordedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(home, 'run', 'state.json'), 'utf8'))
  } catch {
    return undefined
  }
}

// Stops a stack started without BACKEND_MANAGER_HOME, then kills by recorded pid and start time whatever is left.
function cleanupStack(t: { after(fn: () => Promise<void>): void }, home: string, stateHome: string): void {
  const seen = new Map<number, string>()
  const remember = () => {
    const state = readStateAt(home)
    if (state && state.supervisor.pid > 1) seen.set(state.supervisor.pid, state.supervisor.startTime)
    for (const p of state?.processes ?? []) if (p.pid > 1) seen.set(p.pid, p.startTime)
  }
  const timer = setInterval(remember, 200)
  t.after(async () => {
    clearInterval(timer)
    remember()
    if (readStateAt(home)) await runCli(home, ['stop'], { env: { XDG_STATE_HOME: stateHome }, timeoutMs: 20_000 })
    for (const [pid, startTime] of seen) if (pidAlive(pid, startTime)) process.kill(pid, 'SIGKILL')
  })
}

const server = (port: number) => ({
  name: 'web',
  command: 'node test/fixtures/http-server.mjs',
  cwd: repoRoot,
  port,
  health: '/health',
  stop_timeout: 0.5,
})

test('a stack is found from a subfolder; elsewhere every command names it and creates nothing', async (t) => {
  const stateHome = tempDir(t, 'bm-registry-')
  const project = tempDir(t, 'bm-project-')
  const elsewhere = tempDir(t, 'bm-elsewhere-')
  const home = path.join(project, '.local')
  cleanupStack(t, home, stateHome)
  const port = await freePorts(1)
  fs.writeFileSync(path.join(project, 'stack.yaml'), toYaml({ servers: [server(port)] }))
  const started = await runIn(project, ['start', 'stack.yaml'], stateHome)
  assert.equal(started.code, 0, started.stderr)
  assert.ok(readStateAt(home), 'start with no stack found uses .local/ of the working folder')

  const sub = path.join(project, 'src', 'deep')
  fs.mkdirSync(sub, { recursive: true })
  const status = await runIn(sub, ['status'], stateHome)
  assert.equal(status.code, 0, status.stdout + status.stderr)
  assert.ok(status.stdout.includes(home), status.stdout)
  assert.match(status.stdout, /web-0/)

  for (const [args, code] of [
    [['status'], 3],
    [['stop'], 0],
    [['health'], 3],
    [['logs'], 0],
    [['restart'], 3],
  ] as const) {
    const r = await runIn(elsewhere, [...args], stateHome)
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.ok((r.stdout + r.stderr).includes(`no stack here`), `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.ok((r.stdout + r.stderr).includes(`running elsewhere: ${home}`), `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.doesNotMatch(r.stdout + r.stderr, /nothing is running/)
  }
  assert.deepEqual(fs.readdirSync(elsewhere), [], 'nothing was created where no stack is')
  assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).status, 200, 'the stack keeps serving')

  const stopped = await runIn(sub, ['stop'], stateHome)
  assert.equal(stopped.code, 0, stopped.stderr)
  assert.match(stopped.stdout, /stopped 1 process in/)
  assert.equal(readStateAt(home), undefined)
  assert.deepEqual(
    fs.readdirSync(path.join(stateHome, 'backend-manager', 'stacks')),
    [],
    'stop removed the registry entry',
  )
})

test('ls lists every running stack of the user, and one whose supervisor died as such', async (t) => {
  const stateHome = tempDir(t, 'bm-registry-')
  const env = { XDG_STATE_HOME: stateHome }
  const a = useHome(t, 'bm-ls-a-')
  const b = useHome(t, 'bm-ls-b-')
  const empty = await a.cli(['ls'], { env })
  assert.equal(empty.code, 0, empty.stderr)
  assert.match(empty.stdout, /no stacks running/)
  const [portA, portB] = [await freePorts(1), await freePorts(1)]
  for (const [home, port] of [
    [a, portA],
    [b, portB],
  ] as const) {
    const r = await home.cli(['start', home.writeConfig({ servers: [server(port)] })], { env })
    assert.equal(r.code, 0, r.stderr)
  }
  const entries = fs.readdirSync(path.join(stateHome, 'backend-manager', 'stacks'))
  assert.equal(entries.length, 2)
  for (const e of entries)
    assert.equal(fs.statSync(path.join(stateHome, 'backend-manager', 'stacks', e)).mode & 0o777, 0o600)

  const table = await runIn(os.tmpdir(), ['ls'], stateHome)
  assert.equal(table.code, 0, table.stderr)
  const lines = table.stdout.trimEnd().split('\n')
  assert.match(lines[0], /^HOME\s+CONFIG\s+SUPERVISOR\s+PROCESSES\s+HEALTH$/)
  for (const home of [a, b]) {
    const line = lines.find((l) => l.startsWith(home.root + ' '))
    assert.ok(line, `${home.root} missing from:\n${table.stdout}`)
    assert.ok(line.includes(path.join(home.root, 'config.yaml')))
    assert.ok(line.includes(String(home.state()!.supervisor.pid)))
  }
  const json = JSON.parse((await a.cli(['ls', '--json'], { env })).stdout) as {
    home: string
    supervisorAlive: boolean
    processes: number
  }[]
  assert.deepEqual(json.map((s) => s.home).sort(), [a.root, b.root].sort())
  assert.ok(json.every((s) => s.supervisorAlive && s.processes === 1))

  // A supervisor killed outright leaves its servers running: still listed, as such.
  process.kill(b.state()!.supervisor.pid, 'SIGKILL')
  await a.cli(['stop'], { env })
  const after = await a.cli(['ls'], { env })
  assert.doesNotMatch(after.stdout, new RegExp(a.root))
  assert.match(after.stdout, new RegExp(`${b.root}.*supervisor gone`))
  // Once nothing of it runs, its entry is dropped when read.
  assert.equal((await b.cli(['stop'], { env })).code, 0)
  assert.match((await a.cli(['ls'], { env })).stdout, /no stacks running/)
})

test('--home and --version are accepted anywhere on the line, before a "--"', async (t) => {
  const stateHome = tempDir(t, 'bm-registry-')
  const dir = tempDir(t, 'bm-flag-home-')
  for (const args of [
    ['status', '--home', dir],
    ['status', `--home=${dir}`],
    ['--home', dir, 'status'],
  ]) {
    const r = await runIn(os.tmpdir(), args, stateHome)
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, `no stack here (nothing runs from ${dir}); none running elsewhere\n`)
  }
  const version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version
  for (const args of [['--version'], ['status', '--version']])
    assert.equal((await runIn(os.tmpdir(), args, stateHome)).stdout, `${version}\n`)
  const missing = await runIn(os.tmpdir(), ['status', '--home'], stateHome)
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /--home: expected a folder path/)
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing was created in the named home')
})
