import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { commandLine, hasProcfs, parseStat, processTable, readStat, treeOf } from '../../lib/os/procfs.ts'
import { isSameProcess, startTimeOf } from '../../lib/os/platform.ts'
import { psStartTime } from '../../lib/os/ps.ts'
import { hasCommand, sleep, waitFor } from '../helpers.ts'

// Everything after the comm field, as the kernel writes it: state ppid pgrp session tty tpgid flags
// minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itreal starttime vsize rss ...
const tail = 'S 1 4240 4239 0 -1 4194304 101 0 0 0 25 7 0 0 20 0 1 0 87382 3133440 392 18446744073709551615 0 0'

const cases: { name: string; line: string; comm: string }[] = [
  { name: 'plain comm', line: `4242 (node) ${tail}`, comm: 'node' },
  { name: 'comm with spaces', line: `4242 (my server) ${tail}`, comm: 'my server' },
  { name: 'comm with parentheses', line: `4242 (w (x) y) ${tail}`, comm: 'w (x) y' },
  // A comm crafted to look like the end of the field followed by other values.
  { name: 'comm with ") R 9 9 9"', line: `4242 (a) R 9 9 9) ${tail}`, comm: 'a) R 9 9 9' },
  { name: 'comm that is only ")"', line: `4242 ()) ${tail}`, comm: ')' },
]

for (const c of cases) {
  test(`parseStat: ${c.name}`, () => {
    const stat = parseStat(c.line)!
    assert.deepEqual(stat, {
      pid: 4242,
      comm: c.comm,
      state: 'S',
      ppid: 1,
      pgrp: 4240,
      session: 4239,
      cpuTicks: 32,
      startTime: '87382',
      rssPages: 392,
    })
  })
}

test('parseStat: text without a comm field is not a stat line', () => {
  assert.equal(parseStat(''), undefined)
  assert.equal(parseStat('4242 node S 1'), undefined)
})

test(
  'readStat on a live process whose name has spaces and parentheses',
  { skip: !hasProcfs && 'no /proc on this system' },
  async (t) => {
    // The kernel takes the comm from process.title (truncated to 15 bytes).
    const child = spawn(process.execPath, ['-e', "process.title = 'w (x) ) y'; setInterval(() => {}, 1000)"], {
      stdio: 'ignore',
    })
    t.after(() => child.kill('SIGKILL'))
    const stat = await waitFor(
      () => readStat(child.pid!)?.comm === 'w (x) ) y' && readStat(child.pid!),
      5000,
      'the child to set its title',
    )
    assert.equal(stat.pid, child.pid)
    assert.equal(stat.ppid, process.pid)
    assert.equal(stat.pgrp, readStat(process.pid)!.pgrp, 'a non-detached child stays in our group')
    assert.match(stat.state, /^[RS]$/)
    assert.ok(processTable().some((p) => p.pid === child.pid))
    assert.deepEqual(
      treeOf(process.pid, processTable())
        .map((p) => p.pid)
        .filter((pid) => pid === child.pid),
      [child.pid],
    )
  },
)

test(
  'isSameProcess: the recorded start time is what makes a pid the same process',
  { skip: !hasProcfs && 'no /proc on this system' },
  async (t) => {
    const child = spawn('sleep', ['100'], { stdio: 'ignore' })
    t.after(() => child.kill('SIGKILL'))
    const startTime = startTimeOf(child.pid!)!
    assert.match(startTime, /^\d+$/)
    assert.equal(isSameProcess(child.pid!, startTime), true)
    assert.equal(isSameProcess(child.pid!, String(Number(startTime) + 1)), false, 'a reused pid has another start time')
    assert.match(commandLine(child.pid!), /^sleep 100$/)
    child.kill('SIGKILL')
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, 5000, 'the child to exit')
    await sleep(10)
    assert.equal(isSameProcess(child.pid!, startTime), false, 'a dead process is not the recorded one')
  },
)

test(
  'psStartTime (the identity used without /proc): stable for one process, none for a pid that is gone',
  { skip: !hasCommand('ps') && 'no ps on this system' },
  async () => {
    const first = psStartTime(process.pid)
    assert.match(first ?? '', /^ps:\S/)
    assert.equal(psStartTime(process.pid), first)
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    const pid = child.pid!
    await new Promise((resolve) => child.once('exit', resolve))
    await waitFor(() => psStartTime(pid) === undefined, 5000, 'the exited child to be gone')
  },
)
