import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatBytes, formatDuration, formatStatus } from '../../lib/cli/status-format.ts'
import type { ProcessStatus, StackStatus } from '../../lib/stack/status.ts'

const durations: [number | null, string][] = [
  [null, '-'],
  [999, '0s'],
  [59_999, '59s'],
  [61_000, '1m01s'],
  [3_599_000, '59m59s'],
  [3_660_000, '1h01m'],
  [90_000_000, '1d1h'],
]
for (const [ms, want] of durations)
  test(`formatDuration(${ms}) is ${want}`, () => assert.equal(formatDuration(ms), want))

const sizes: [number | null, string][] = [
  [null, '-'],
  [512 * 1024, '512K'],
  [54.6 * 1024 * 1024, '54.6M'],
  [3 * 1024 * 1024 * 1024, '3.00G'],
]
for (const [bytes, want] of sizes)
  test(`formatBytes(${bytes}) is ${want}`, () => assert.equal(formatBytes(bytes), want))

const row = (over: Partial<ProcessStatus>): ProcessStatus => ({
  id: 'api-0',
  name: 'api',
  instance: 0,
  kind: 'server',
  pid: 4242,
  port: 8001,
  state: 'running',
  health: 'ok',
  healthy: true,
  uptimeMs: 65_000,
  restarts: 0,
  cpuPercent: 1.5,
  rssBytes: 80 * 1024 * 1024,
  lastExit: null,
  ...over,
})

test('formatStatus: aligned columns, why a process is down, colour only when asked', () => {
  const status: StackStatus = {
    running: true,
    home: '/h',
    config: 'dev.yaml',
    healthy: false,
    processes: [
      row({ id: 'supervisor', kind: 'supervisor', port: null }),
      row({}),
      row({
        id: 'worker-0',
        port: null,
        state: 'crashed',
        health: '-',
        healthy: false,
        pid: 77,
        cpuPercent: null,
        rssBytes: null,
        uptimeMs: null,
        restarts: 5,
        lastExit: 'exited with code 1; gave up after 5 restarts (max_restarts 5)',
      }),
    ],
  }
  const plain = formatStatus(status, false)
  assert.equal(
    plain,
    [
      'config dev.yaml  home /h  degraded',
      'NAME        PID   PORT  STATE    HEALTH  UPTIME  RESTARTS  CPU   MEM',
      'supervisor  4242  -     running  ok      1m05s   0         1.5%  80.0M',
      'api-0       4242  8001  running  ok      1m05s   0         1.5%  80.0M',
      'worker-0    77    -     crashed  -       -       5         -     -',
      'worker-0: exited with code 1; gave up after 5 restarts (max_restarts 5)',
      '',
    ].join('\n'),
  )
  const coloured = formatStatus(status, true)
  assert.match(coloured, /\x1b\[31mcrashed\x1b\[0m/)
  assert.equal(coloured.replace(/\x1b\[[0-9;]*m/g, ''), plain)
})

test('formatStatus: nothing running says where it looked', () => {
  assert.equal(
    formatStatus({ running: false, home: '/h', config: null, processes: [], healthy: false }, false),
    'not running (no stack in /h)\n',
  )
})

test('formatStatus: a unified log that cannot be written is said, with why and how far behind', () => {
  const status: StackStatus = {
    running: true,
    home: '/h',
    config: 'dev.yaml',
    healthy: false,
    logBehind: { reason: 'no space left on device', unreadBytes: 123456 },
    processes: [row({ id: 'supervisor', kind: 'supervisor', port: null })],
  }
  assert.match(
    formatStatus(status, false),
    /  degraded\n[^]*\nunified log behind: no space left on device \(123456 bytes unread\)\n$/,
  )
})

test('formatStatus: a paused instance is said as paused, with how to resume it, and is no failure', () => {
  const status: StackStatus = {
    running: true,
    home: '/h',
    config: 'dev.yaml',
    healthy: true,
    processes: [row({}), row({ id: 'api-1', instance: 1, state: 'paused', health: 'paused', healthy: false })],
  }
  const plain = formatStatus(status, false)
  assert.match(plain, /^config dev\.yaml {2}home \/h {2}all healthy, 1 paused\n/)
  assert.match(plain, /\napi-1 +4242 +8001 +paused +paused /)
  assert.match(plain, /\napi-1: paused \(SIGSTOP\), out of the proxy's rotation; "resume api-1" continues it\n$/)
  assert.match(formatStatus(status, true), /\x1b\[35mpaused\x1b\[0m/)
})

test('formatStatus: why the supervisor last restarted a process, in its health column', () => {
  const status: StackStatus = {
    running: true,
    home: '/h',
    config: 'dev.yaml',
    healthy: true,
    processes: [row({ restarts: 1, restartReason: 'memory 212M > 100M (max_memory, 3 samples in a row)' })],
  }
  assert.match(
    formatStatus(status, false),
    /^api-0 +4242 +8001 +running +ok \(last restarted: memory 212M > 100M \(max_memory, 3 samples in a row\)\) +1m05s +1 /m,
  )
})
