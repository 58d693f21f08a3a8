// HTTP load against 127.0.0.1 only, keep-alive, bounded duration: wrk when installed, else autocannon.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { benchDir, now, run, sleep } from './common.ts'

export interface LoadResult {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  // CPU per 1000 requests in ms, i.e. µs per request: the servers, the proxy, everything else (mostly the load tool).
  cpuPer1000?: { servers: number; proxy: number; rest: number }
}

const autocannonBin = path.join(benchDir, 'node_modules', 'autocannon', 'autocannon.js')

export function loadTool(): { name: string; version: string } | undefined {
  const wrk = spawnSync('wrk', ['-v'], { encoding: 'utf8' })
  // `wrk -v` prints e.g. "wrk debian/4.1.0-3+b2 [epoll] ..." and exits 1.
  if (!wrk.error)
    return { name: 'wrk', version: (/wrk (?:\S+\/)?(\d[\w.+-]*)/.exec(wrk.stdout + wrk.stderr) ?? [])[1] ?? 'unknown' }
  if (fs.existsSync(autocannonBin))
    return {
      name: 'autocannon',
      version: JSON.parse(fs.readFileSync(path.join(benchDir, 'node_modules', 'autocannon', 'package.json'), 'utf8'))
        .version,
    }
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
    const out = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', script, url], {
      timeoutMs: (seconds + 10) * 1000,
    })
    const line = out.stdout.split('\n').find((l) => l.startsWith('{'))
    if (!line) throw new Error(`wrk printed no summary:\n${out.stdout}${out.stderr}`)
    const s = JSON.parse(line)
    return {
      requestsPerSecond: s.requests / (s.duration_us / 1e6),
      p50Ms: s.p50_us / 1000,
      p99Ms: s.p99_us / 1000,
      errors: s.errors + s.non2xx,
    }
  }
  const out = await run(
    process.execPath,
    [autocannonBin, '-j', '-c', String(connections), '-d', String(seconds), url],
    { timeoutMs: (seconds + 10) * 1000 },
  )
  const s = JSON.parse(out.stdout)
  return {
    requestsPerSecond: s.requests.average,
    p50Ms: s.latency.p50,
    p99Ms: s.latency.p99,
    errors: s.errors + s.non2xx,
  }
}

export interface LatencyResult {
  p50Ms: number
  p99Ms: number
  samples: number
  errors: number
}

// Latency without saturating the machine: each URL gets `rate` requests per second on its own keep-alive
// connection, the URLs' requests interleaved evenly in one loop, each timed from sending to the last byte.
// Measured together, a proxied URL and the direct one see the same background load at the same moments.
// Flat-out load on 2 cores measures CPU contention instead.
export async function pacedLatencies(urls: string[], rate: number, seconds: number): Promise<LatencyResult[]> {
  for (const url of urls)
    if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`load only against 127.0.0.1, not ${url}`)
  const agents = urls.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }))
  const samples: number[][] = urls.map(() => [])
  const errors = urls.map(() => 0)
  const t0 = now()
  const ticks = rate * seconds * urls.length
  for (let i = 0; i < ticks; i++) {
    const which = i % urls.length
    const wait = t0 + (i * 1000) / (rate * urls.length) - now()
    if (wait > 0) await sleep(wait)
    const sent = now()
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(urls[which], { agent: agents[which] }, (res) => {
        res.resume()
        res.once('end', () => resolve(res.statusCode === 200))
      })
      req.once('error', () => resolve(false))
      req.setTimeout(2000, () => req.destroy())
    })
    if (ok) samples[which].push(now() - sent)
    else errors[which]++
  }
  for (const agent of agents) agent.destroy()
  return samples.map((list, i) => {
    list.sort((a, b) => a - b)
    const at = (q: number) => list[Math.min(list.length - 1, Math.floor(q * list.length))] ?? NaN
    return { p50Ms: at(0.5), p99Ms: at(0.99), samples: list.length, errors: errors[i] }
  })
}

export interface SteadyCount {
  requests: number
  // Answered with a status outside 2xx.
  non2xx: number
  // Refused, reset, or no answer within the timeout.
  errors: number
  // From the first failure to the last, in ms (0 for none or one).
  failingMs: number
}

// Open-loop load at a fixed rate, as clients arrive whatever the server does: one request every 1/rate s,
// each on a fresh connection (so a client's idle keep-alive socket closing is not what is counted), until
// stopped, or after `maxSeconds` at most. Counts what a client would see fail.
export function steadyLoad(url: string, rate: number, maxSeconds = 120): { stop: () => Promise<SteadyCount> } {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`load only against 127.0.0.1, not ${url}`)
  const count: SteadyCount = { requests: 0, non2xx: 0, errors: 0, failingMs: 0 }
  const inFlight = new Set<Promise<void>>()
  let first: number | undefined
  const failed = (kind: 'non2xx' | 'errors') => {
    count[kind]++
    first ??= now()
    count.failingMs = now() - first
  }
  const one = () =>
    new Promise<void>((resolve) => {
      count.requests++
      let settled = false
      const done = (failure?: 'non2xx' | 'errors') => {
        if (settled) return
        settled = true
        if (failure) failed(failure)
        resolve()
      }
      const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
        res.resume()
        res.once('end', () => done(res.statusCode! >= 200 && res.statusCode! <= 299 ? undefined : 'non2xx'))
        res.once('error', () => done('errors'))
      })
      req.once('error', () => done('errors'))
      req.setTimeout(5000, () => req.destroy())
    })
  const t0 = now()
  let stopped = false
  const loop = (async () => {
    for (let i = 0; !stopped && now() - t0 < maxSeconds * 1000; i++) {
      const wait = t0 + (i * 1000) / rate - now()
      if (wait > 0) await sleep(wait)
      const p = one()
      inFlight.add(p)
      void p.then(() => inFlight.delete(p))
    }
  })()
  return {
    stop: async () => {
      stopped = true
      await loop
      await Promise.all(inFlight)
      return count
    },
  }
}
