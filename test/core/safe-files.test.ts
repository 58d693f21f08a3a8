// The file operations used for everything under the home, on real files, links and FIFOs.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ensureHome, resolveHome } from '../../lib/core/home.ts'
import { cleanLogs } from '../../lib/logs/clean.ts'
import { startTimeOf } from '../../lib/os/platform.ts'
import { copyTruncate } from '../../lib/logs/rotate.ts'
import { liveSupervisor, writeState, type StackState } from '../../lib/stack/state.ts'
import { RUN_ENV, supervisorTag } from '../../lib/os/process-record.ts'
import {
  FileProblem,
  checkHomeDir,
  makeDirsUnder,
  openAppend,
  truncateRegular,
  writeFileAtomic,
} from '../../lib/core/safe-files.ts'

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-safe-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const refusedLink = (file: string) => (e: unknown) =>
  e instanceof FileProblem && e.errno === 'ELOOP' && e.message.includes(`${file} is a symbolic link`)

test('files are created 0600 whatever the umask, and never opened through a link', (t) => {
  const dir = tempDir(t)
  const outside = path.join(dir, 'outside')
  fs.writeFileSync(outside, 'precious\n')
  const old = process.umask(0)
  try {
    fs.closeSync(openAppend(path.join(dir, 'a.log')))
    writeFileAtomic(path.join(dir, 'state.json'), '{}\n')
  } finally {
    process.umask(old)
  }
  assert.equal(fs.statSync(path.join(dir, 'a.log')).mode & 0o777, 0o600)
  assert.equal(fs.statSync(path.join(dir, 'state.json')).mode & 0o777, 0o600)
  fs.symlinkSync(outside, path.join(dir, 'link.log'))
  assert.throws(() => openAppend(path.join(dir, 'link.log')), refusedLink(path.join(dir, 'link.log')))
  assert.throws(() => writeFileAtomic(path.join(dir, 'link.log'), 'x'), refusedLink(path.join(dir, 'link.log')))
  execFileSync('mkfifo', [path.join(dir, 'fifo.log')])
  assert.throws(() => openAppend(path.join(dir, 'fifo.log')), /is a FIFO, not a regular file/)
  assert.deepEqual(truncateRegular(path.join(dir, 'link.log')), {
    skipped: `${path.join(dir, 'link.log')} is a symbolic link (to ${outside}), left alone`,
  })
  assert.equal(fs.readFileSync(outside, 'utf8'), 'precious\n')
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
    'no temporary file is left behind',
  )
})

test('rotation copies and truncates only regular files', (t) => {
  const dir = tempDir(t)
  const outside = path.join(dir, 'outside')
  fs.writeFileSync(outside, 'precious\n'.repeat(100))
  const link = path.join(dir, 'x.log')
  fs.symlinkSync(outside, link)
  const own = path.join(dir, 'y.log')
  fs.writeFileSync(own, 'ours\n')
  const steps = { pause: () => undefined, resume() {}, drain() {}, begin() {}, truncated() {}, end() {} }
  assert.equal(copyTruncate([link, own], 3, steps), true)
  assert.equal(fs.readFileSync(outside, 'utf8'), 'precious\n'.repeat(100))
  assert.ok(!fs.existsSync(`${link}.1`), 'no archive of a link')
  assert.equal(fs.readFileSync(`${own}.1`, 'utf8'), 'ours\n')
  assert.equal(fs.readFileSync(own, 'utf8'), '')
})

test('folders in the home are made 0700 and may not be links; an unsafe home is refused', (t) => {
  const dir = tempDir(t)
  const home = path.join(dir, 'home')
  fs.mkdirSync(home, { mode: 0o700 })
  const old = process.umask(0)
  try {
    makeDirsUnder(home, path.join(home, 'run', 'nginx-temp', 'proxy'))
  } finally {
    process.umask(old)
  }
  for (const d of ['run', 'run/nginx-temp', 'run/nginx-temp/proxy'])
    assert.equal(fs.statSync(path.join(home, d)).mode & 0o777, 0o700, d)
  fs.symlinkSync(dir, path.join(home, 'logs'))
  assert.throws(() => makeDirsUnder(home, path.join(home, 'logs')), refusedLink(path.join(home, 'logs')))
  assert.throws(() => makeDirsUnder(home, path.join(dir, 'elsewhere')), /is not inside the home/)
  fs.chmodSync(home, 0o757)
  assert.throws(
    () => checkHomeDir(home),
    (e: unknown) =>
      e instanceof FileProblem && e.message.includes(`has mode 0757`) && e.message.includes(`chmod 700 ${home}`),
  )
  fs.chmodSync(home, 0o755)
  checkHomeDir(home)
})

test('logs clean on a full disk, with a live writer it cannot even ask: it truncates the files itself', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to mount a small tmpfs')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    fs.rmdirSync(dir)
    return t.skip(`mount is not permitted here: ${String(error)}`)
  }
  t.after(() => {
    execFileSync('umount', ['-l', dir])
    fs.rmdirSync(dir)
  })
  const home = resolveHome({}, '/', dir)
  ensureHome(home)
  // A live supervisor as the stack checks it: the CLI's command line ending in "supervise", and the run's tag.
  const stand = spawn(
    process.execPath,
    ['-e', 'setInterval(() => {}, 1e9)', path.join(dir, 'backend-manager.js'), 'supervise'],
    {
      env: { ...process.env, [RUN_ENV]: supervisorTag('r') },
      stdio: 'ignore',
    },
  )
  t.after(() => stand.kill('SIGKILL'))
  await new Promise((resolve) => stand.once('spawn', resolve))
  const supervisor = { pid: stand.pid!, startTime: startTimeOf(stand.pid!)! }
  const state = {
    version: 1,
    runId: 'r',
    phase: 'running',
    startedAt: 0,
    supervisor,
    plan: {},
    ports: [],
    processes: [],
  }
  writeState(home, state as unknown as StackState)
  fs.writeFileSync(path.join(home.logs, 'api-0.log'), 'x'.repeat(100_000))
  const fd = fs.openSync(path.join(dir, 'filler'), 'a')
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096))
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC')
  } finally {
    fs.closeSync(fd)
  }
  const notices: string[] = []
  const result = await cleanLogs(home, liveSupervisor(home), (line) => notices.push(line))
  assert.equal(result.by, 'command')
  assert.equal(fs.statSync(path.join(home.logs, 'api-0.log')).size, 0)
  assert.match(notices.join('\n'), /the disk is full, so the supervisor cannot be asked/)
})
