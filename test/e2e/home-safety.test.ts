// The home and the files in it, end to end: nothing written or truncated through a planted link, private
// modes whatever the umask, a home others could tamper with refused, unprivileged nginx workers under root,
// and a read-only, immutable or full home that still lets a running stack be stopped.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import {
  fixture,
  freePorts,
  httpGet,
  httpRequest,
  pidGone,
  repoRoot,
  sleep,
  useHome,
  waitFor,
  type TestHome,
} from '../helpers.ts'

const SERVER = `node ${fixture('http-server.mjs')}`
const isRoot = process.getuid?.() === 0
const mode = (file: string) => fs.statSync(file).mode & 0o777
const octal = (m: number) => m.toString(8).padStart(4, '0')

// Files outside the home that a planted link points to; their text must never change.
function outsideFiles(t: TestContext, names: string[]): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-outside-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const files: Record<string, string> = {}
  for (const name of names) {
    files[name] = path.join(dir, name)
    fs.writeFileSync(files[name], `precious ${name}\n`)
  }
  return files
}

function assertUntouched(files: Record<string, string>): void {
  for (const [name, file] of Object.entries(files))
    assert.equal(fs.readFileSync(file, 'utf8'), `precious ${name}\n`, `${file} was written through a link`)
}

function plant(home: TestHome, rel: string, target: string): string {
  const link = path.join(home.root, rel)
  fs.mkdirSync(path.dirname(link), { recursive: true, mode: 0o700 })
  fs.symlinkSync(target, link)
  return link
}

async function stackConfig(home: TestHome, proxy = false): Promise<{ file: string; port: number }> {
  const port = await freePorts(2)
  const file = home.writeConfig({
    proxy: proxy ? { type: 'nginx', port } : { type: 'none' },
    servers: [{ name: 'core', command: SERVER, port: port + 1, health: '/health', stop_timeout: 1 }],
  })
  return { file, port }
}

// Runs `mount` (or anything else needing privileges); a skip reason when it is not permitted here.
function tryRun(command: string, args: string[]): string | undefined {
  try {
    execFileSync(command, args, { stdio: 'pipe' })
    return undefined
  } catch (error) {
    return `${command} ${args.join(' ')} is not permitted here: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`
  }
}

test('start writes nothing through links planted in logs/ and run/; it names each one', async (t) => {
  const home = useHome(t)
  const { file } = await stackConfig(home, true)
  const outside = outsideFiles(t, ['core-log', 'unified', 'notes', 'nginx-conf'])
  const links = [
    plant(home, 'logs/core-0.log', outside['core-log']),
    plant(home, 'logs/backend-unified.log', outside.unified),
    plant(home, 'run/nginx.conf', outside['nginx-conf']),
  ]
  plant(home, 'logs/notes.log', outside.notes)
  const named = new Set<string>()
  let r = await home.cli(['start', file])
  // Each start refuses the first link it would write through; removed, the next start gets further.
  for (let i = 0; i < links.length && r.code !== 0; i++) {
    assert.doesNotMatch(r.stderr, /Unexpected error/)
    const link = links.find((l) => r.stderr.includes(`${l} is a symbolic link`))
    assert.ok(link, `start failed without naming a planted link:\n${r.stderr}`)
    assertUntouched(outside)
    named.add(link)
    fs.rmSync(link)
    r = await home.cli(['start', file])
  }
  assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr}`)
  assert.deepEqual([...named].sort(), [...links].sort(), 'every link start would have written through was named')
  assertUntouched(outside)
  // With the stack running the supervisor truncates; links are still left alone and named.
  const clean = await home.cli(['logs', 'clean'])
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stderr, new RegExp(`skipped: ${path.join(home.root, 'logs', 'notes.log')} is a symbolic link`))
  assertUntouched(outside)
  assert.equal((await home.cli(['stop'])).code, 0)
  assertUntouched(outside)
})

test("logs clean truncates only the stack's own regular files, and names what it left alone", async (t) => {
  const home = useHome(t)
  const outside = outsideFiles(t, ['notes', 'archive', 'fifo-target'])
  fs.mkdirSync(home.logFile(''), { recursive: true, mode: 0o700 })
  fs.writeFileSync(home.logFile('api-0.log'), 'a line of ours\n')
  fs.writeFileSync(home.logFile('api-0.log.1'), 'an old line of ours\n')
  const notes = plant(home, 'logs/notes.log', outside.notes)
  const archive = plant(home, 'logs/api-0.log.2', outside.archive)
  execFileSync('mkfifo', [home.logFile('pipe.log')])
  const r = await home.cli(['logs', 'clean'], { timeoutMs: 20_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /Unexpected error/)
  assert.equal(fs.readFileSync(home.logFile('api-0.log'), 'utf8'), '', 'our own log is emptied')
  assert.ok(!fs.existsSync(home.logFile('api-0.log.1')), 'our own rotated copy is removed')
  assertUntouched(outside)
  assert.ok(
    fs.lstatSync(notes).isSymbolicLink() && fs.lstatSync(archive).isSymbolicLink(),
    'the links are left where they are',
  )
  for (const left of [notes, archive, home.logFile('pipe.log')])
    assert.match(r.stderr, new RegExp(`skipped: ${left} is`), `${left} not named`)
})

test('a home others could write into, or someone else owns, is refused with the fix', async (t) => {
  const home = useHome(t)
  const { file } = await stackConfig(home)
  // A home with logs in it: "logs clean" has something to do (with none it only names the stacks elsewhere).
  fs.mkdirSync(path.join(home.root, 'logs'), { mode: 0o700 })
  for (const bad of [0o777, 0o770, 0o722]) {
    fs.chmodSync(home.root, bad)
    for (const args of [
      ['start', file],
      ['logs', 'clean'],
    ]) {
      const r = await home.cli(args)
      assert.equal(r.code, 2, `${args[0]} with a ${octal(bad)} home:\n${r.stdout}\n${r.stderr}`)
      assert.ok(r.stderr.includes(`the home ${home.root} has mode ${octal(bad)}`), r.stderr)
      assert.ok(r.stderr.includes(`chmod 700 ${home.root}`), r.stderr)
    }
  }
  // Readable by the group is no risk of tampering: accepted.
  fs.chmodSync(home.root, 0o750)
  assert.equal((await home.cli(['logs', 'clean'])).code, 0)
  if (isRoot) {
    fs.chmodSync(home.root, 0o700)
    fs.chownSync(home.root, 65534, 65534)
    const r = await home.cli(['start', file])
    assert.equal(r.code, 2, r.stderr)
    assert.ok(r.stderr.includes(`the home ${home.root} is owned by uid 65534, not by you (uid 0)`), r.stderr)
    fs.chownSync(home.root, 0, 0)
  }
  assert.equal(home.state(), undefined, 'nothing was started')
})

test('under umask 000 the state, the nginx config, the logs and the folders are private', async (t) => {
  const home = useHome(t)
  const { file, port } = await stackConfig(home, true)
  // A home that does not exist yet is created private too.
  const root = path.join(home.root, 'nested', 'home')
  t.after(() => runIn(root, ['stop']))
  const r = await runIn(root, ['start', file])
  assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr}`)
  assert.equal((await httpGet(`http://127.0.0.1:${port}/x`)).status, 200)
  for (const f of [
    'run/state.json',
    'run/nginx.conf',
    'run/log-offsets.json',
    'logs/core-0.log',
    'logs/core-0.stderr.log',
    'logs/backend-unified.log',
    'logs/supervisor.log',
    'logs/nginx-error.log',
    'logs/nginx-access.log',
  ])
    assert.equal(octal(mode(path.join(root, f))), '0600', f)
  assert.equal(octal(mode(path.join(root, 'logs'))), '0700', 'logs/')
  for (const d of ['', 'run', 'run/nginx-temp'])
    assert.equal(octal(mode(path.join(root, d))), '0700', `${d || 'the home'}/`)
  assert.equal(
    mode(path.join(home.root, 'nested')) & 0o022,
    0,
    'a folder created on the way to the home is not writable by others',
  )
  assert.equal((await runIn(root, ['stop'])).code, 0)
})

// The CLI with umask 000, as from a shell where it was set so.
function runIn(root: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      'sh',
      ['-c', 'umask 000; exec "$0" "$@"', process.execPath, path.join(repoRoot, 'bin', 'backend-manager.js'), ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, NO_COLOR: '1', BACKEND_MANAGER_HOME: root },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

function procStatus(pid: number, key: string): string | undefined {
  try {
    return new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  } catch {
    return undefined
  }
}

function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => procStatus(p, 'PPid') === String(pid))
}

// nginx in front of a server that counts the bytes of a body and sends large answers (/api/v1/files/...).
async function filesStack(home: TestHome): Promise<{ file: string; port: number }> {
  const port = await freePorts(2)
  const file = home.writeConfig({
    proxy: { type: 'nginx', port },
    servers: [
      {
        name: 'files',
        command: `node ${fixture('byte-counter.mjs')}`,
        port: port + 1,
        modules: ['files'],
        health: '/health',
        stop_timeout: 1,
      },
    ],
  })
  return { file, port }
}

test('as root, nginx workers run unprivileged and still take large bodies, large answers and WebSockets', async (t) => {
  if (!isRoot) return t.skip('needs root: the workers switch user only when the master runs as root')
  const home = useHome(t)
  const { file, port } = await filesStack(home)
  const r = await home.cli(['start', file])
  assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr}`)
  const master = home.record('nginx').pid
  const workers = await waitFor(
    () => {
      const w = childrenOf(master)
      return w.length > 0 && w
    },
    10_000,
    'nginx workers',
  )
  for (const w of workers) {
    const [real, effective] = (procStatus(w, 'Uid') ?? '').split(/\s+/)
    assert.ok(
      real !== '0' && effective !== '0' && real !== undefined,
      `worker ${w} runs as uid ${procStatus(w, 'Uid')}`,
    )
  }
  // 4 MB is far past the in-memory body buffer: nginx streams it on rather than spool it to a temp file.
  const body = 'p'.repeat(4 << 20)
  const post = await httpRequest('POST', `http://127.0.0.1:${port}/api/v1/files/upload`, body, 30_000)
  assert.equal(post.status, 200, post.body)
  assert.equal(post.json().bytes, body.length)
  const big = await httpGet(`http://127.0.0.1:${port}/api/v1/files/big?n=${8 << 20}`, 30_000)
  assert.equal(big.status, 200)
  assert.equal(big.body.length, 8 << 20)
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/files/ws`)
  t.after(() => ws.terminate())
  const reply = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send('hello'))
    ws.once('message', (data) => resolve(data.toString()))
    ws.once('error', reject)
  })
  assert.equal(reply, 'echo: hello')
  ws.close()
  assert.doesNotMatch(home.readLog('nginx-error.log'), /\[(crit|alert|emerg)\]|Permission denied/)
  assert.equal((await home.cli(['stop'])).code, 0)
})

test('as root, a home inside a folder others cannot enter works: nginx workers need nothing in the home', async (t) => {
  if (!isRoot) return t.skip("needs root: only root's nginx workers switch user")
  const home = useHome(t)
  const { file, port } = await filesStack(home)
  fs.chmodSync(home.root, 0o700)
  const inner = path.join(home.root, 'inner')
  t.after(() => runIn(inner, ['stop']))
  const r = await runIn(inner, ['start', file])
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  const body = 'q'.repeat(4 << 20)
  const post = await httpRequest('POST', `http://127.0.0.1:${port}/api/v1/files/upload`, body, 30_000)
  assert.equal(post.status, 200, post.body)
  assert.equal(post.json().bytes, body.length)
  for (const dir of [home.root, inner, path.join(inner, 'run')])
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700, `${dir} stays private`)
  assert.doesNotMatch(
    fs.readFileSync(path.join(inner, 'logs', 'nginx-error.log'), 'utf8'),
    /\[(crit|alert|emerg)\]|Permission denied/,
  )
  const stopped = await runIn(inner, ['stop'])
  assert.equal(stopped.code, 0, `${stopped.stdout}\n${stopped.stderr}`)
})

test('a read-only home: start and stop say so plainly, naming the folder and the errno', async (t) => {
  const home = useHome(t)
  const { file } = await stackConfig(home)
  const config = path.join(os.tmpdir(), `bm-ro-config-${process.pid}.yaml`)
  fs.copyFileSync(file, config)
  t.after(() => fs.rmSync(config, { force: true }))
  const skip = tryRun('mount', ['--bind', home.root, home.root])
  if (skip) return t.skip(skip)
  try {
    const ro = tryRun('mount', ['-o', 'remount,bind,ro', home.root])
    if (ro) return t.skip(ro)
    const start = await home.cli(['start', config])
    assert.equal(start.code, 2, `${start.stdout}\n${start.stderr}`)
    assert.doesNotMatch(start.stderr, /Unexpected error|\n\s+at /)
    assert.ok(start.stderr.includes(`${home.root}/run`), start.stderr)
    assert.match(start.stderr, /\(EROFS\): the file system is read-only; remount it writable or use another home/)
    const stop = await home.cli(['stop'])
    assert.doesNotMatch(stop.stderr, /Unexpected error/)
    assert.equal(stop.code, 0, stop.stderr)
  } finally {
    tryRun('umount', ['-l', home.root])
  }
})

test('an immutable home: a running stack is still stopped, without the lock and with the state left', async (t) => {
  const home = useHome(t)
  const { file } = await stackConfig(home)
  const r = await home.cli(['start', file])
  assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr}`)
  const core = home.record('core-0')
  const dirs = [path.join(home.root, 'run'), home.root]
  const skip = tryRun('chattr', ['+i', ...dirs])
  if (skip) return t.skip(skip)
  try {
    const stop = await home.cli(['stop'], { timeoutMs: 30_000 })
    assert.doesNotMatch(stop.stderr, /Unexpected error|\n\s+at /)
    assert.equal(stop.code, 0, `${stop.stdout}\n${stop.stderr}`)
    assert.match(stop.stderr, /cannot write the lock .*\(EPERM\).*; going on without the lock/)
    assert.match(stop.stderr, new RegExp(`everything is stopped, but cannot remove ${home.statePath} \\(EPERM\\)`))
    assert.ok(pidGone(core.pid, core.startTime), 'the server was stopped')
  } finally {
    tryRun('chattr', ['-i', ...dirs])
  }
})

test('a full disk: logs clean and stop still work', async (t) => {
  const home = useHome(t)
  const port = await freePorts(1)
  const config = path.join(os.tmpdir(), `bm-full-config-${process.pid}.yaml`)
  fs.writeFileSync(
    config,
    fs.readFileSync(
      home.writeConfig({ servers: [{ name: 'core', command: SERVER, port, health: '/health', stop_timeout: 1 }] }),
    ),
  )
  t.after(() => fs.rmSync(config, { force: true }))
  const skip = tryRun('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', home.root])
  if (skip) return t.skip(skip)
  const filler = path.join(home.root, 'filler')
  // Fills what is left of the disk; the stack's own writes then fail with ENOSPC.
  const fill = () => {
    const fd = fs.openSync(filler, 'a')
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(64 << 10))
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC')
    } finally {
      fs.closeSync(fd)
    }
  }
  try {
    const r = await home.cli(['start', config])
    assert.equal(r.code, 0, `start failed:\n${r.stdout}\n${r.stderr}`)
    const core = home.record('core-0')
    await httpGet(`http://127.0.0.1:${port}/some/request`)
    fill()
    const clean = await home.cli(['logs', 'clean'], { timeoutMs: 30_000 })
    assert.doesNotMatch(clean.stderr, /Unexpected error|\n\s+at /)
    assert.equal(clean.code, 0, `${clean.stdout}\n${clean.stderr}`)
    fill()
    await sleep(200)
    const stop = await home.cli(['stop'], { timeoutMs: 30_000 })
    assert.doesNotMatch(stop.stderr, /Unexpected error|\n\s+at /)
    assert.equal(stop.code, 0, `${stop.stdout}\n${stop.stderr}`)
    assert.ok(pidGone(core.pid, core.startTime), 'the server was stopped')
  } finally {
    await home.cli(['stop'], { timeoutMs: 20_000 })
    tryRun('umount', ['-l', home.root])
  }
})
