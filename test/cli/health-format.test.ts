import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatHealth, type HealthRow } from '../../lib/stack/health.ts'

const rows: HealthRow[] = [
  { target: 'core-0', via: 'direct', url: 'http://127.0.0.1:8004/health', result: { ok: true, detail: 'HTTP 200' } },
  {
    target: 'datafeed-1',
    via: 'direct',
    url: 'tcp://127.0.0.1:8003',
    result: { ok: false, detail: 'connection refused' },
  },
  {
    target: 'core',
    via: 'proxy',
    url: 'http://127.0.0.1:8000/__backend-manager/health/core',
    result: { ok: true, detail: 'HTTP 200' },
  },
]
const visible = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '')

test('health table: colour codes do not count as width, so a terminal shows the columns aligned', () => {
  const plain = formatHealth(rows, false)
  const coloured = formatHealth(rows, true)
  assert.match(coloured, /\x1b\[32mok\x1b\[0m/)
  assert.match(coloured, /\x1b\[31mFAIL\x1b\[0m/)
  assert.equal(visible(coloured), plain)
  const lines = plain.trimEnd().split('\n')
  const detailAt = lines[0].indexOf('DETAIL')
  for (const line of lines.slice(1)) assert.match(line.slice(detailAt), /^(HTTP 200|connection refused) /, line)
})
