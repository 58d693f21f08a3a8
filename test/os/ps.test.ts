// The behaviour without /proc (lib/os/ps.ts), run here through ps itself: only recorded processes are known.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import * as ps from '../../lib/os/ps.ts'
import { hasCommand, pidGone, waitFor } from '../helpers.ts'

const withPs = { skip: !hasCommand('ps') && 'no ps on this system' }

test('ps: the recorded leader, while it is the same process, stands for its whole group', withPs, async (t) => {
  const child = spawn('sleep', ['100'], { detached: true, stdio: 'ignore' })
  t.after(() => {
    if (!pidGone(child.pid!)) process.kill(-child.pid!, 'SIGKILL')
  })
  const record = { pid: child.pid!, pgid: child.pid!, startTime: ps.startTimeOf(child.pid!)! }
  assert.match(record.startTime, /^ps:/)
  assert.deepEqual(ps.groupMembers(record), [{ pid: record.pid, pgrp: record.pgid }])
  assert.deepEqual(ps.groupMembers({ ...record, startTime: 'ps:Thu Jan  1 00:00:00 1970' }), [], 'a reused pid')
  assert.equal(ps.isRecordedProcess(record), true)
  process.kill(-child.pid!, 'SIGKILL')
  await waitFor(() => ps.groupMembers(record).length === 0, 5000, 'the killed leader to be gone')
  assert.equal(ps.isRecordedProcess(record), false)
})

test('ps: no table, no environment, no pause; stop --force says what it needs', () => {
  assert.deepEqual(ps.processTable(), [])
  assert.equal(ps.environValue(), undefined)
  assert.equal(ps.commandArgs(), undefined, 'unknown, so pid and start time decide')
  assert.equal(ps.pauseGroup(), undefined, 'a pause cannot be confirmed: rotation goes on without one')
  assert.throws(() => ps.everyProcess('stop --force'), /stop --force finds processes through \/proc/)
})
