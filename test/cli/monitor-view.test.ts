// The monitor's view as pure functions: the screen for a width and height, plain blocks, keys, access-log rates.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { keyAction, plainBlock, renderMonitor, upstreamRates, type MonitorState } from '../../lib/cli/monitor-view.ts'
import { accessSample } from '../../lib/proxy/nginx/access-log.ts'
import type { ProcessStatus, StackStatus } from '../../lib/stack/status.ts'

const proc = (id: string, extra: Partial<ProcessStatus> = {}): ProcessStatus => ({
  id,
  name: id.replace(/-\d+$/, ''),
  instance: 0,
  kind: id === 'supervisor' ? 'supervisor' : id === 'nginx' ? 'proxy' : 'server',
  pid: 100,
  port: 4000,
  state: 'running',
  health: 'ok',
  healthy: true,
  uptimeMs: 65_000,
  restarts: 0,
  cpuPercent: 1.5,
  rssBytes: 30 * 1024 * 1024,
  lastExit: null,
  ...extra,
})

const status = (processes: ProcessStatus[]): StackStatus => ({
  running: true,
  home: '/tmp/h',
  config: '/tmp/h/config.yaml',
  processes,
  healthy: true,
})

const state = (extra: Partial<MonitorState> = {}): MonitorState => ({
  status: status([proc('supervisor'), proc('api-0'), proc('api-1', { state: 'paused', health: 'paused' })]),
  events: [{ id: 'api-1', time: Date.UTC(2026, 0, 1, 10, 0, 0), kind: 'pause', pid: 7 }],
  selected: 1,
  lastLine: 'listening on 4000',
  logLines: ['one', 'two', 'three'],
  mode: 'table',
  upstreams: [{ upstream: '127.0.0.1:4000', id: 'api-0', rps: 12.5, p50Ms: 2, p99Ms: 31.4 }],
  message: '',
  ...extra,
})

const ESC = /\x1b\[[0-9;?]*[a-zA-Z]/g
const visible = (line: string) => line.replace(ESC, '')

test('the screen is exactly the height asked, no line wider than the width, at any size', () => {
  for (const [width, height] of [
    [120, 30],
    [40, 10],
    [20, 4],
    [200, 60],
  ]) {
    for (const colour of [true, false]) {
      const lines = renderMonitor(state(), width, height, colour)
      assert.equal(lines.length, height, `${width}x${height}`)
      for (const line of lines) assert.ok(visible(line).length <= width, `${width}x${height}: ${visible(line)}`)
    }
  }
})

test('a row per process with its state, memory, uptime; the upstream rates, last line and events', () => {
  const text = renderMonitor(state(), 120, 30, false).join('\n')
  assert.match(text, /^api-0 +100 +running +ok +1\.5% +30\.0M +0 +1m05s/m)
  assert.match(text, /^api-1 +100 +paused +paused/m)
  assert.match(text, /^api-0 +12\.5 +2\.0ms +31ms$/m)
  assert.match(text, /last line of api-0: listening on 4000/)
  assert.match(text, /RECENT EVENTS\n\d\d:\d\d:\d\d api-1 paused pid 7/)
  assert.match(text.split('\n').at(-1)!, /q quit/)
  assert.doesNotMatch(text, ESC, 'no escape code without colour')
})

test('the selected row is drawn reversed; states are coloured only with colour on', () => {
  const lines = renderMonitor(state(), 120, 30, true)
  assert.ok(lines.some((l) => l.startsWith('\x1b[7mapi-0 ')))
  assert.ok(lines.some((l) => l.startsWith('api-1 ') && l.includes('\x1b[35mpaused')))
})

test('log mode shows the last lines that fit, and the key to go back', () => {
  const lines = renderMonitor(state({ mode: 'log', logLines: ['a', 'b', 'c', 'd', 'e'] }), 80, 6, false)
  assert.deepEqual(lines.slice(1, 5), ['log of api-0 (q/Esc back)', 'c', 'd', 'e'])
})

test('on a pipe: a plain block per refresh, no escape codes', () => {
  const block = plainBlock(state(), Date.UTC(2026, 0, 1, 10, 0, 5))
  assert.doesNotMatch(block, ESC)
  assert.match(block, /^api-1 100 paused paused/m)
  assert.match(block, /^upstream api-0 12\.5 req\/s p50 2\.0ms p99 31ms$/m)
  assert.ok(block.endsWith('\n\n'))
  assert.match(plainBlock(state({ status: { ...status([]), running: false } }), 0), /no stack running in \/tmp\/h/)
})

test('keys: arrows and j/k select, q quits the table but goes back from the log, Esc only goes back', () => {
  assert.equal(keyAction('\x1b[A', 'table'), 'up')
  assert.equal(keyAction('j', 'table'), 'down')
  assert.equal(keyAction('p', 'table'), 'pause')
  assert.equal(keyAction('+', 'table'), 'scale-up')
  assert.equal(keyAction('-', 'table'), 'scale-down')
  assert.equal(keyAction('q', 'table'), 'quit')
  assert.equal(keyAction('q', 'log'), 'back')
  assert.equal(keyAction('\x1b', 'log'), 'back')
  assert.equal(keyAction('\x1b', 'table'), undefined)
  assert.equal(keyAction('\x03', 'log'), 'quit')
  assert.equal(keyAction('x', 'table'), undefined)
})

test("rates from nginx's JSON access log: per upstream, p50 and p99, lines nginx answered itself left out", () => {
  const line = (upstream: string, time: string) =>
    JSON.stringify({ status: 200, request_time: 0.01, upstream, upstream_time: time })
  assert.deepEqual(accessSample(line('127.0.0.1:4001', '0.004'), 5), { at: 5, upstream: '127.0.0.1:4001', ms: 4 })
  assert.deepEqual(accessSample(line('127.0.0.1:4001, 127.0.0.1:4002', '0.001, 0.002'), 5), {
    at: 5,
    upstream: '127.0.0.1:4002',
    ms: 2,
  })
  assert.equal(accessSample(line('', '-'), 5), undefined)
  assert.equal(accessSample('not json', 5), undefined)
  const samples = Array.from({ length: 100 }, (_, i) => ({ at: 10_001 + i, upstream: 'a', ms: i + 1 }))
  samples.push({ at: 1, upstream: 'b', ms: 1 })
  const [a, ...rest] = upstreamRates(samples, 20_000, 10_000, 0)
  assert.deepEqual(rest, [], 'b is older than the window')
  assert.deepEqual(a, { upstream: 'a', rps: 10, p50Ms: 51, p99Ms: 100 })
  // Started 5 s ago: the rate is over those 5 s, not the whole window.
  assert.equal(upstreamRates(samples, 20_000, 10_000, 15_000)[0], undefined)
  assert.equal(upstreamRates(samples, 14_000, 10_000, 9_000)[0].rps, 20)
})
