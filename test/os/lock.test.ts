import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BackendManagerError } from '../../lib/core/errors.ts'
import { acquireLock } from '../../lib/os/lock.ts'
import { startTimeOf } from '../../lib/os/platform.ts'
import { resolveHome } from '../../lib/core/home.ts'
import { fixture, repoRoot } from '../helpers.ts'

function tempHome(t: { after(fn: () => void): void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-lock-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  return resolveHome({}, root, root)
}

test('a lock held by a live process refuses a second taker and names the holder', async (t) => {
  const home = tempHome(t)
  const holder = spawn('sleep', ['100'], { stdio: 'ignore' })
  t.after(() => holder.kill('SIGKILL'))
  fs.mkdirSync(home.run, { recursive: true })
  fs.writeFileSync(
    home.lock,
    JSON.stringify({ pid: holder.pid, startTime: startTimeOf(holder.pid!), command: 'start', action: 'start' }),
  )
  assert.throws(
    () => acquireLock(home, 'stop'),
    (error: BackendManagerError) => {
      assert.equal(error.code, 'LOCKED')
      assert.match(error.message, new RegExp(`another "start" \\(pid ${holder.pid}: sleep 100\\) is in progress`))
      return true
    },
  )
  assert.equal(JSON.parse(fs.readFileSync(home.lock, 'utf8')).pid, holder.pid, 'the holder keeps its lock')
  assert.deepEqual(fs.readdirSync(home.run), ['lock'], 'no private lock file left behind')
})

test('taking and releasing a free lock', (t) => {
  const home = tempHome(t)
  const lock = acquireLock(home, 'start')
  assert.deepEqual(JSON.parse(fs.readFileSync(home.lock, 'utf8')), {
    pid: process.pid,
    startTime: startTimeOf(process.pid),
    command: 'start',
    action: 'start',
  })
  lock.release()
  assert.deepEqual(fs.readdirSync(home.run), [])
})

test('a lock left by a dead process is taken over', (t) => {
  const home = tempHome(t)
  fs.mkdirSync(home.run, { recursive: true })
  fs.writeFileSync(home.lock, JSON.stringify({ pid: 2 ** 22 + 1, startTime: '1', command: 'start', action: 'start' }))
  const lock = acquireLock(home, 'stop')
  assert.equal(JSON.parse(fs.readFileSync(home.lock, 'utf8')).pid, process.pid)
  lock.release()
})

for (const c of [
  { name: 'processes racing for the lock never hold it at the same time', leaveStale: '0' },
  { name: 'processes racing to take over a stale lock never hold it at the same time', leaveStale: '1' },
]) {
  test(c.name, async (t) => {
    await raceForLock(t, c.leaveStale)
  })
}

async function raceForLock(t: Parameters<typeof tempHome>[0], leaveStale: string): Promise<void> {
  const home = tempHome(t)
  const log = path.join(home.root, 'holds.log')
  const contenders = Array.from(
    { length: 4 },
    () =>
      new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', fixture('lock-contender.ts')],
          {
            cwd: repoRoot,
            env: { ...process.env, LOCK_HOME: home.root, LOCK_LOG: log, DURATION_MS: '2500', LEAVE_STALE: leaveStale },
          },
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        ),
      ),
  )
  const holds = (await Promise.all(contenders)).map(Number)
  assert.ok(
    holds.every((n) => n > 0),
    `every contender got the lock at least once: ${holds.join(', ')}`,
  )
  let holder: string | undefined
  const overlaps: string[] = []
  for (const line of fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    const [kind, pid] = line.split(' ')
    if (kind === 'in' && holder !== undefined) overlaps.push(`${pid} took the lock while ${holder} held it`)
    holder = kind === 'in' ? pid : undefined
  }
  assert.deepEqual(overlaps.slice(0, 5), [], `${overlaps.length} overlapping holds`)
}
