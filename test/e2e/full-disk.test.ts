// A home on a small tmpfs, filled up by a server that prints fast: the unified log loses nothing and
// catches up once there is room again, status says it is behind, and start fails fast instead of hanging.
// Mounting needs root: without it these tests are skipped, saying why.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fixture, freePorts, procStat, TestHome, waitFor, type ServerYaml } from '../helpers.ts'

const PAYLOAD = 'c'.repeat(80)
const UNIFIED_LINE = /^([a-z0-9_-]+) {0,19}(>>|!>) (.*)$/
const STDERR_EVERY = 10

// A TestHome that is a 3 MB tmpfs of its own; undefined (the test skipped) when mounting is not permitted.
function tmpfsHome(t: TestContext, size = '3m'): TestHome | undefined {
  const home = new TestHome('bm-disk-e2e-')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', home.root], { stdio: 'pipe' })
  } catch (error) {
    fs.rmSync(home.root, { recursive: true, force: true })
    const why = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message
    t.skip(`cannot mount a tmpfs (${why}); run as root to test a full disk`)
    return undefined
  }
  t.after(async () => {
    fs.rmSync(filler(home), { force: true })
    // Stops and kills everything first; its last step, removing the folder, fails on a mount point.
    await home.cleanup().catch(() => {})
    execFileSync('umount', ['-l', home.root])
    fs.rmSync(home.root, { recursive: true, force: true })
  })
  return home
}

const filler = (home: TestHome) => path.join(home.root, 'filler')
const freeBytes = (dir: string) => {
  const s = fs.statfsSync(dir)
  return s.bavail * s.bsize
}

// Takes all but `leave` bytes of the disk (all of it, when leave is 0).
function fill(home: TestHome, leave: number): void {
  const fd = fs.openSync(filler(home), 'w')
  const block = Buffer.alloc(64 << 10, 0x66)
  try {
    for (let room = freeBytes(home.root) - leave; room > 0; room -= block.length)
      fs.writeSync(fd, block, 0, Math.min(block.length, room))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC' || leave > 0) throw error
  } finally {
    fs.closeSync(fd)
  }
}

function chatter(env: Record<string, string>, extra: Partial<ServerYaml> = {}): ServerYaml {
  return {
    name: 'chat',
    command: `node ${fixture('chatter.mjs')}`,
    health: 'none',
    stop_timeout: 1,
    restart: 'no',
    env: { CHATTER_STDERR_EVERY: String(STDERR_EVERY), ...env },
    ...extra,
  }
}

const expected = (n: number) => `chatter ${n} ${PAYLOAD}`
const isStderr = (n: number) => n % STDERR_EVERY === STDERR_EVERY - 1

// A log file with its rotated copies before it, oldest first.
function withArchives(home: TestHome, name: string): string {
  const archives = fs
    .readdirSync(path.join(home.root, 'logs'))
    .filter((f) => f.startsWith(`${name}.`) && /\.\d+$/.test(f))
  const sorted = archives.sort((a, b) => Number(b.split('.').at(-1)) - Number(a.split('.').at(-1)))
  return [...sorted, name].map((f) => home.readLog(f)).join('')
}

function unifiedLines(home: TestHome): { out: string[]; err: string[]; total: number } {
  const text = withArchives(home, 'backend-unified.log')
  const result = { out: [] as string[], err: [] as string[], total: 0 }
  for (const line of text.split('\n').slice(0, -1)) {
    const m = UNIFIED_LINE.exec(line)
    // The supervisor's events (spawn, ready, adopt) are lines of their own.
    if (m?.[1] === 'supervisor' && m[2] === '>>') continue
    assert.ok(m && m[1] === 'chat-0', `unexpected unified line: ${JSON.stringify(line.slice(0, 200))}`)
    ;(m[2] === '!>' ? result.err : result.out).push(m[3])
    result.total++
  }
  return result
}

// What tells apart why a wait timed out (a writer that stalled with room left, a disk nobody can fill, a server
// that finished early): sampled while the test runs, printed only when a wait fails.
class DiskTrace {
  private readonly samples: { at: number; text: string; times: number }[] = []
  private readonly timer: NodeJS.Timeout
  private readonly began = Date.now()

  constructor(private readonly home: TestHome) {
    this.timer = setInterval(() => this.sample(), 500)
  }

  // Free space, every file's size, whether the server and the supervisor run, and where the writer has read to
  // (with the size of the batch it last recorded, `pending`, and the stderr blocks not yet read back).
  sample(): void {
    const sizes: string[] = []
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, e.name)
        if (e.isDirectory()) walk(file)
        else sizes.push(`${path.relative(this.home.root, file)}=${fs.statSync(file, { throwIfNoEntry: false })?.size}`)
      }
    }
    try {
      walk(this.home.root)
    } catch (error) {
      sizes.push(`(${(error as Error).message})`)
    }
    const state = this.home.state()
    const alive = (pid: number | undefined) => (pid ? `${pid}:${procStat(pid)?.state ?? 'gone'}` : '?')
    let writer = '-'
    try {
      const saved = JSON.parse(fs.readFileSync(path.join(this.home.root, 'run', 'log-offsets.json'), 'utf8'))
      const sources = Object.values(saved.sources ?? {}).map((v) => {
        const { out, err, copies } = v as { out: { offset: number }; err?: { offset: number }; copies?: number[][] }
        return `out@${out.offset} err@${err?.offset} copies=${JSON.stringify(copies ?? [])}`
      })
      const pending = saved.pending ? ` pending=${saved.pending.after - saved.pending.before}B` : ''
      writer = `${sources.join(' ')}${pending}`
    } catch (error) {
      writer = `(${(error as Error).message})`
    }
    const text =
      `free=${freeBytes(this.home.root)} chat=${alive(state?.processes.find((p) => p.id === 'chat-0')?.pid)}` +
      ` supervisor=${alive(state?.supervisor.pid)} ${sizes.join(' ')}\n    offsets: ${writer}`
    const last = this.samples.at(-1)
    if (last?.text === text) last.times++
    else this.samples.push({ at: Date.now() - this.began, text, times: 1 })
  }

  // The wait, with everything sampled printed when it fails.
  async around<T>(wait: Promise<T>): Promise<T> {
    try {
      return await wait
    } catch (error) {
      this.sample()
      const samples = this.samples.map((s) => `+${s.at}ms (${s.times}x) ${s.text}`).join('\n')
      const supervisor = this.home.readLog('supervisor.log').split('\n').slice(-40).join('\n')
      console.error(`--- ${this.home.root}, sampled every 500 ms:\n${samples}\n--- supervisor.log:\n${supervisor}`)
      throw error
    }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

async function fillAndCatchUp(t: TestContext, size: string, logs?: { max_size: number; keep: number }): Promise<void> {
  const home = tmpfsHome(t, size)
  if (!home) return
  const lines = 10_000
  const go = path.join(home.root, 'go')
  const config = home.writeConfig({
    ...(logs && { logs }),
    servers: [chatter({ CHATTER_LINES: String(lines), CHATTER_GO: go })],
  })
  // About 2.2 MB of logs in all: more than is left now, less than the disk once the filler is gone.
  fill(home, 1536 << 10)
  const start = await home.cli(['start', config])
  assert.equal(start.code, 0, `start failed:\n${start.stdout}\n${start.stderr}`)
  const trace = new DiskTrace(home)
  t.after(() => trace.stop())
  await trace.around(
    waitFor(() => /all processes ready/.test(home.readLog('supervisor.log')), 30_000, 'the supervisor to take over'),
  )
  fs.writeFileSync(go, '')

  await trace.around(waitFor(() => freeBytes(home.root) < 16 << 10, 30_000, 'the disk to fill up'))
  const behind = await trace.around(
    waitFor(
      async () => {
        const r = await home.cli(['status'])
        return r.code === 1 && /unified log behind: no space left on device \(\d+ bytes unread\)/.test(r.stdout) && r
      },
      30_000,
      'status to say the unified log is behind',
    ),
  )
  assert.doesNotMatch(behind.stdout, /all healthy/)
  // Without the supervisor's note (a disk too full to write it), the free space and the offsets still tell.
  fs.rmSync(path.join(home.root, 'run', 'log-behind.json'), { force: true })
  const told = await home.cli(['status'])
  assert.equal(told.code, 1, told.stdout)
  assert.match(told.stdout, /unified log behind: no space left on device \(\d+ bytes unread\)/)
  assert.ok(unifiedLines(home).total < lines, 'the unified log is behind while the disk is full')

  fs.rmSync(filler(home))
  await trace.around(
    waitFor(
      () => unifiedLines(home).total >= lines,
      60_000,
      `all ${lines} lines in the unified log once there is room`,
    ),
  )
  const unified = unifiedLines(home)
  const all = Array.from({ length: lines }, (_, n) => n)
  assert.deepEqual(
    unified.out,
    all.filter((n) => !isStderr(n)).map(expected),
    'every stdout line once, whole, in order',
  )
  assert.deepEqual(
    unified.err,
    all.filter(isStderr).map(expected),
    'every stderr line once, whole, in order, marked !>',
  )
  assert.equal(unified.total, lines, 'nothing else in the unified log')
  // The raw files hold the same lines: what the unified log shows is what the process printed.
  assert.deepEqual(withArchives(home, 'chat-0.stderr.log').split('\n').slice(0, -1), unified.err)
  const status = await home.statusUntilHealthy(30_000)
  assert.equal(status.code, 0, `status after catching up:\n${status.stdout}`)
  assert.doesNotMatch(status.stdout, /behind/)
}

const FULL_DISK =
  'full disk: the unified log loses no line while the disk is full' +
  ', status says it is behind, and it catches up once there is room'
test(FULL_DISK, async (t) => {
  await fillAndCatchUp(t, '3m')
})

test('full disk: the same with files rotating while the disk is full', async (t) => {
  await fillAndCatchUp(t, '4m', { max_size: 300_000, keep: 20 })
})

test('full disk: start refuses at once when the disk holding the home is full, starting and writing nothing', async (t) => {
  const home = tmpfsHome(t)
  if (!home) return
  const config = home.writeConfig({ servers: [chatter({ CHATTER_LINES: '10' })] })
  fill(home, 0)
  const r = await home.cli(['start', config], { timeoutMs: 60_000 })
  assert.equal(r.code, 1, `start on a full disk:\n${r.stdout}\n${r.stderr}`)
  assert.match(r.stderr, /no space left on its disk .*free some space there/)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a clear message, not a stack trace')
  assert.deepEqual(home.processes(), [], 'nothing left running')
  assert.equal(fs.existsSync(home.statePath), false)
})

test('full disk: a start whose server fills the disk during bring-up fails fast and clearly, leaving nothing running', async (t) => {
  const home = tmpfsHome(t)
  if (!home) return
  const port = await freePorts(1)
  // Ready (listening) only once its output has filled the disk: the bring-up's own writes then find no room.
  const config = home.writeConfig({
    servers: [chatter({ CHATTER_LINES: '40000', CHATTER_LISTEN: '1' }, { port, health: 'tcp', ready_timeout: 120 })],
  })
  fill(home, 1200 << 10)
  const r = await home.cli(['start', config], { timeoutMs: 100_000 })
  assert.doesNotMatch(r.stderr, /Unexpected error|\n\s+at /, 'a clear message, not a stack trace')
  assert.match(r.stderr, /no space left on device/, `start on a disk that fills up:\n${r.stdout}\n${r.stderr}`)
  if (r.code === 0) {
    // The state fit (a unified-log batch undone freed a page just then): the stack runs, and status says the log is behind.
    const status = await home.cli(['status'])
    assert.equal(status.code, 1, status.stdout + status.stderr)
    assert.match(status.stdout, /unified log behind: no space left on device/)
    const stopped = await home.cli(['stop'])
    assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr)
  } else {
    assert.equal(r.code, 1, `start on a disk that fills up:\n${r.stdout}\n${r.stderr}`)
    assert.match(r.stderr, /free some space/)
  }
  await waitFor(() => home.processes().length === 0, 20_000, 'nothing left running')
})
