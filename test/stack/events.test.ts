// The supervisor's events: their lines, the bounded ring of recent ones, and subscribers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { describeEvent, EventLog, type SupervisorEvent } from '../../lib/stack/events.ts'

test('each kind of event has a line naming the process first', () => {
  const time = 0
  const lines = (
    [
      { kind: 'spawn', id: 'api-0', time, pid: 10, port: 8001 },
      { kind: 'ready', id: 'api-0', time, pid: 10, port: 8001, ms: 120, detail: 'HTTP 200' },
      { kind: 'exit', id: 'api-0', time, pid: 10, code: 3, reason: 'exited with code 3' },
      { kind: 'restart', id: 'api-0', time, delayMs: 200, attempt: 2, maxRestarts: 5, reason: 'exited with code 3' },
      { kind: 'crash', id: 'job-0', time, reason: 'exited with code 1' },
      { kind: 'reload', id: 'nginx', time, pid: 20, reason: 'its config changed' },
      { kind: 'pause', id: 'api-1', time, pid: 11 },
      { kind: 'resume', id: 'api-1', time, pid: 11 },
      { kind: 'scale', id: 'api', time, from: 2, to: 4 },
      { kind: 'spawn', id: 'worker-0', time, pid: 12 },
    ] satisfies SupervisorEvent[]
  ).map(describeEvent)
  assert.deepEqual(lines, [
    'api-0 spawned pid 10 port 8001',
    'api-0 ready pid 10 port 8001 in 120 ms (HTTP 200)',
    'api-0 pid 10 exited with code 3',
    'api-0 restarting in 200 ms (restart 2 of at most 5 in a row)',
    'job-0 crashed: exited with code 1',
    'nginx reloaded pid 20 (its config changed)',
    'api-1 paused pid 11 (SIGSTOP)',
    'api-1 resumed pid 11 (SIGCONT)',
    'api scaled from 2 to 4 instances',
    'worker-0 spawned pid 12',
  ])
})

test('the ring keeps the last events, stamped by the clock; subscribers get each one until they unsubscribe', () => {
  let now = 1000
  const reports: string[] = []
  const log = new EventLog(
    () => now++,
    3,
    (line) => reports.push(line),
  )
  const seen: string[] = []
  const stop = log.subscribe((e) => seen.push(`${e.id}@${e.time}`))
  log.subscribe(() => {
    throw new Error('a broken client')
  })
  for (let i = 0; i < 5; i++) log.emit({ kind: 'spawn', id: `w-${i}`, pid: 100 + i })
  assert.deepEqual(
    log.recent().map((e) => [e.id, e.time]),
    [
      ['w-2', 1002],
      ['w-3', 1003],
      ['w-4', 1004],
    ],
  )
  assert.deepEqual(seen, ['w-0@1000', 'w-1@1001', 'w-2@1002', 'w-3@1003', 'w-4@1004'])
  assert.equal(reports.length, 5)
  assert.match(reports[0], /event listener failed on "w-0 spawned pid 100": a broken client/)
  stop()
  log.emit({ kind: 'crash', id: 'w-9', reason: 'exited with code 1' })
  assert.equal(seen.length, 5)
  assert.equal(log.recent().at(-1)?.id, 'w-9')
})
