// HTTP load against 127.0.0.1 only, keep-alive, bounded duration: wrk when installed, else autocannon.
import fs from 'node:fs'
import path from 'node:path'
import { benchDir, run } from './common.ts'

export interface LoadResult {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  // CPU per 1000 requests in ms, i.e. µs per request: the servers, nginx, everything else (mostly the load tool).
  cpuPer1000?: { servers: number; nginx: number; rest: number }
}

const autocannonBin = path.join(benchDir, 'node_modules', 'autocannon', 'autocannon.js')

export function loadTool(): { name: string; version: string } | undefined {
  if (['/usr/bin/wrk', '/usr/local/bin/wrk'].some((f) => fs.existsSync(f))) return { name: 'wrk', version: '4.1.0' }
  if (fs.existsSync(autocannonBin)) return { name: 'autocannon', version: JSON.parse(fs.readFileSync(path.join(benchDir, 'node_modules', 'autocannon', 'package.json'), 'utf8')).version }
  return undefined
}

// Prints the summary as one JSON line, so nothing depends on wrk's human output format.
const WRK_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`

export async function load(url: string, connections: number, seconds: number, tmpDir: string): Promise<LoadResult> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`load only against 127.0.0.1, not ${url}`)
  const tool = loadTool()
  if (!tool) throw new Error('neither wrk nor autocannon is installed; run "make -C bench deps"')
  if (tool.name === 'wrk') {
    const script = path.join(tmpDir, 'summary.lua')
    fs.writeFileSync(script, WRK_SCRIPT)
    const out = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', script, url], { timeoutMs: (seconds + 10) * 1000 })
    const line = out.stdout.split('\n').find((l) => l.startsWith('{'))
    if (!line) throw new Error(`wrk printed no summary:\n${out.stdout}${out.stderr}`)
    const s = JSON.parse(line)
    return { requestsPerSecond: s.requests / (s.duration_us / 1e6), p50Ms: s.p50_us / 1000, p99Ms: s.p99_us / 1000, errors: s.errors + s.non2xx }
  }
  const out = await run(process.execPath, [autocannonBin, '-j', '-c', String(connections), '-d', String(seconds), url], { timeoutMs: (seconds + 10) * 1000 })
  const s = JSON.parse(out.stdout)
  return { requestsPerSecond: s.requests.average, p50Ms: s.latency.p50, p99Ms: s.latency.p99, errors: s.errors + s.non2xx }
}
