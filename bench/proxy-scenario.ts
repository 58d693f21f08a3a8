// The proxy comparison: the generated nginx (worker_processes variants side by side), HAProxy, Caddy and
// a Node http-proxy in front of the same two demo server instances, flat out (wrk) and at a steady rate;
// then uvicorn + FastAPI direct vs through the generated nginx. Every proxy runs at once, idle while
// another is measured; the order rotates every round, so each round's ratios are taken under the same
// background load, and the report gives medians of those per-round ratios.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { cpuMs, freePortRange, machineBusyMs } from './common.ts'
import { load, pacedLatencies, type LatencyResult, type LoadResult } from './load.ts'
import {
  available,
  caddy,
  demoServer,
  generatedNginx,
  haproxy,
  nodeHttpProxy,
  uvicorn,
  versionOf,
  type Backend,
  type Peer,
} from './peers.ts'

export type SubjectKind = 'direct' | 'nginx' | 'haproxy' | 'caddy' | 'node'

export interface ProxySubject {
  name: string
  kind: SubjectKind
  // nginx: the worker_processes value; HAProxy: nbthread.
  threads?: string
  // The nginx variant whose config is exactly what `start` writes today.
  generated?: boolean
  runs: LoadResult[]
  paced: LatencyResult[]
  // The direct runs measured interleaved with each of this subject's paced runs.
  pacedDirect: LatencyResult[]
}

export interface ProxyBackendResults {
  backend: string
  url: string
  subjects: ProxySubject[]
  // Per flat-out round: subject name -> req/s, for ratios taken under the same load.
  rounds: Map<string, number>[]
}

export interface ProxyResults {
  date: string
  versions: string[]
  method: string[]
  connections: number
  seconds: number
  rate: number
  pacedSeconds: number
  generatedWorkers: string
  cores: number
  demo: ProxyBackendResults
  uvicorn?: ProxyBackendResults
  skipped: string[]
}

export interface ProxyOptions {
  tmp: string
  serverArgv: string[]
  serverLabel: string
  log: (line: string) => void
  // Called with each started peer's stop, so a Ctrl+C or a failure still stops it.
  onStarted: (stop: () => Promise<void>) => void
  rounds?: number
  seconds?: number
  pacedRounds?: number
  pacedSeconds?: number
}

// Overridable for a quicker look: BENCH_PROXY_ROUNDS, BENCH_LOAD_SECONDS (flat out), BENCH_PACED_ROUNDS, BENCH_PACED_SECONDS.
const ROUNDS = Number(process.env.BENCH_PROXY_ROUNDS ?? 9)
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 2)
const PACED_ROUNDS = Number(process.env.BENCH_PACED_ROUNDS ?? 5)
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 3)
const CONNECTIONS = 16
const RATE = 500
const NGINX_WORKERS = ['1', '2', 'auto']

interface Entry {
  subject: ProxySubject
  peer?: Peer
  url: string
}

// One flat-out run, with the CPU each party spent per request: what the proxy costs, not only what it yields.
async function measuredLoad(
  url: string,
  seconds: number,
  tmp: string,
  servers: Peer[],
  proxy: Peer | undefined,
): Promise<LoadResult> {
  const serverPids = () => servers.flatMap((s) => s.pids())
  const proxyPids = () => proxy?.pids() ?? []
  const before = { servers: cpuMs(serverPids()), proxy: cpuMs(proxyPids()), machine: machineBusyMs() }
  const result = await load(url, CONNECTIONS, seconds, tmp)
  const per1000 = 1000 / (result.requestsPerSecond * seconds)
  const s = cpuMs(serverPids()) - before.servers
  const p = cpuMs(proxyPids()) - before.proxy
  const m = machineBusyMs() - before.machine
  return { ...result, cpuPer1000: { servers: s * per1000, proxy: p * per1000, rest: Math.max(0, m - s - p) * per1000 } }
}

async function compare(
  entries: Entry[],
  servers: Peer[],
  backend: string,
  url: string,
  opts: ProxyOptions,
): Promise<ProxyBackendResults> {
  const rounds = opts.rounds ?? ROUNDS
  const seconds = opts.seconds ?? SECONDS
  // Warm every path (JIT, keep-alive pools) before anything is kept.
  for (const e of entries) await load(e.url, CONNECTIONS, 1, opts.tmp)
  const perRound: Map<string, number>[] = []
  for (let round = 0; round < rounds; round++) {
    const byName = new Map<string, number>()
    for (let i = 0; i < entries.length; i++) {
      const e = entries[(i + round) % entries.length]
      const r = await measuredLoad(e.url, seconds, opts.tmp, servers, e.peer)
      e.subject.runs.push(r)
      byName.set(e.subject.name, r.requestsPerSecond)
      opts.log(
        `${backend} round ${round + 1}/${rounds}` +
          `: ${e.subject.name}: ${r.requestsPerSecond.toFixed(0)} req/s` +
          `, p99 ${r.p99Ms.toFixed(2)} ms${r.errors ? `, ${r.errors} errors` : ''}`,
      )
    }
    perRound.push(byName)
  }
  // Each proxy interleaved with direct requests: the added latency is taken under the same load.
  const pacedRounds = opts.pacedRounds ?? PACED_ROUNDS
  const [baseline, ...proxied] = entries
  for (let round = 0; round < pacedRounds; round++)
    for (let i = 0; i < proxied.length; i++) {
      const e = proxied[(i + round) % proxied.length]
      const [d, r] = await pacedLatencies([baseline.url, e.url], RATE, opts.pacedSeconds ?? PACED_SECONDS)
      e.subject.paced.push(r)
      e.subject.pacedDirect.push(d)
      baseline.subject.paced.push(d)
      opts.log(
        `${backend} at ${RATE} req/s, round ${round + 1}/${pacedRounds}` +
          `: ${e.subject.name}: p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms` +
          `; direct alongside: p50 ${d.p50Ms.toFixed(3)} ms, p99 ${d.p99Ms.toFixed(3)} ms`,
      )
    }
  return { backend, url, subjects: entries.map((e) => e.subject), rounds: perRound }
}

async function startAll(peers: Peer[], opts: ProxyOptions): Promise<void> {
  for (const p of peers) {
    opts.onStarted(() => p.stop())
    await p.start()
  }
}

const subject = (name: string, kind: SubjectKind, extra: Partial<ProxySubject> = {}): ProxySubject => ({
  name,
  kind,
  runs: [],
  paced: [],
  pacedDirect: [],
  ...extra,
})

export async function runProxyScenario(opts: ProxyOptions): Promise<ProxyResults> {
  const cores = os.cpus().length
  const skipped: string[] = []
  const have = {
    haproxy: available('haproxy'),
    caddy: available('caddy'),
    node: available('http-proxy'),
    uvicorn: available('uvicorn'),
  }
  if (!have.haproxy) skipped.push('HAProxy (not installed: run "make -C bench deps" as root)')
  if (!have.caddy) skipped.push('Caddy (not installed: run "make -C bench deps" as root)')
  if (!have.node) skipped.push('Node http-proxy (bench/node_modules missing: run "make -C bench deps")')
  if (!have.uvicorn)
    skipped.push('uvicorn + FastAPI (python3-uvicorn, python3-fastapi not installed: run "make -C bench deps" as root)')
  // HAProxy threads matching each nginx worker count (auto: one per core).
  const threadCounts = [...new Set(NGINX_WORKERS.map((w) => (w === 'auto' ? cores : Number(w))))]
  const needed = 2 + NGINX_WORKERS.length + threadCounts.length + 2 + 1 + NGINX_WORKERS.length
  const base = await freePortRange(needed)
  let next = base
  const port = () => next++
  const dir = (name: string) => {
    const d = path.join(opts.tmp, 'proxy', name)
    fs.mkdirSync(d, { recursive: true })
    return d
  }

  // The demo server behind every proxy, as the existing stack bench runs it: two instances.
  const servers = [0, 1].map((i) => demoServer(dir('servers'), opts.serverArgv, 'web', port(), i))
  const demo: Backend = { name: 'web', ports: servers.map((s) => s.port), healthPath: '/health' }
  opts.log(`proxy: ports ${base}-${base + needed - 1}; backends ${demo.ports.join(', ')}`)
  await startAll(servers, opts)
  const entries: Entry[] = [
    { subject: subject('direct to one instance', 'direct'), url: `http://127.0.0.1:${demo.ports[0]}/` },
  ]
  let generatedWorkers = '?'
  let nginxVersion = 'unknown'
  for (const w of NGINX_WORKERS) {
    const n = generatedNginx(dir(`nginx-${w}`), port(), demo, w)
    generatedWorkers = n.generatedWorkers
    nginxVersion = n.version
    entries.push({
      subject: subject(`nginx, worker_processes ${w}`, 'nginx', { threads: w, generated: w === n.generatedWorkers }),
      peer: n.peer,
      url: `http://127.0.0.1:${n.peer.port}/`,
    })
  }
  if (have.haproxy)
    for (const t of threadCounts) {
      const h = haproxy(dir(`haproxy-${t}`), port(), demo, t)
      entries.push({
        subject: subject(`HAProxy, nbthread ${t}`, 'haproxy', { threads: String(t) }),
        peer: h,
        url: `http://127.0.0.1:${h.port}/`,
      })
    }
  if (have.caddy) {
    const c = caddy(dir('caddy'), port(), demo)
    entries.push({ subject: subject('Caddy', 'caddy'), peer: c, url: `http://127.0.0.1:${c.port}/` })
  }
  if (have.node) {
    const n = nodeHttpProxy(dir('node-proxy'), port(), demo)
    entries.push({ subject: subject('Node http-proxy', 'node'), peer: n, url: `http://127.0.0.1:${n.port}/` })
  }
  await startAll(
    entries.flatMap((e) => (e.peer ? [e.peer] : [])),
    opts,
  )
  const demoResults = await compare(entries, servers, 'demo server', '/', opts)
  for (const e of entries) await e.peer?.stop()
  for (const s of servers) await s.stop()

  let uvicornResults: ProxyBackendResults | undefined
  if (have.uvicorn) {
    // One uvicorn process, direct vs through the generated nginx in front of that same process.
    const app = uvicorn(dir('uvicorn'), port())
    const backend: Backend = { name: 'api', ports: [app.port], healthPath: '/health' }
    await startAll([app], opts)
    const target = '/items/42?q=bench'
    const uv: Entry[] = [{ subject: subject('uvicorn direct', 'direct'), url: `http://127.0.0.1:${app.port}${target}` }]
    for (const w of NGINX_WORKERS) {
      const n = generatedNginx(dir(`uvicorn-nginx-${w}`), port(), backend, w)
      uv.push({
        subject: subject(`through nginx, worker_processes ${w}`, 'nginx', {
          threads: w,
          generated: w === n.generatedWorkers,
        }),
        peer: n.peer,
        url: `http://127.0.0.1:${n.peer.port}${target}`,
      })
    }
    await startAll(
      uv.flatMap((e) => (e.peer ? [e.peer] : [])),
      opts,
    )
    uvicornResults = await compare(uv, [app], 'uvicorn', target, opts)
    for (const e of uv) await e.peer?.stop()
    await app.stop()
  }

  const rounds = opts.rounds ?? ROUNDS
  const seconds = opts.seconds ?? SECONDS
  return {
    date: new Date().toISOString(),
    versions: [
      `nginx ${nginxVersion} (rendered by lib/proxy/nginx/render.ts, started with the same arguments as \`start\`)`,
      ...(have.haproxy ? [`HAProxy ${versionOf('haproxy')}`] : []),
      ...(have.caddy ? [`Caddy ${versionOf('caddy')}`] : []),
      ...(have.node ? [`http-proxy ${versionOf('http-proxy')} on node ${process.version}`] : []),
      ...(have.uvicorn ? [versionOf('uvicorn')] : []),
    ],
    method: [
      `backends: 2 x ${opts.serverLabel}` +
        `${have.uvicorn ? '; 1 uvicorn process (bench/fastapi_app.py) on uvloop with its h11 parser (httptools is not installed)' : ''}`,
      `flat out: wrk, ${CONNECTIONS} keep-alive connections, ${seconds} s per run, ${rounds} rounds after a 1 s warm-up of each`,
      `steady: ${RATE} requests/s on one keep-alive connection through the proxy` +
        `, interleaved with ${RATE} requests/s direct on another` +
        `, ${opts.pacedSeconds ?? PACED_SECONDS} s per run, ${opts.pacedRounds ?? PACED_ROUNDS} rounds` +
        `; added latency: the median over runs of proxied minus direct`,
      'every proxy is started before the first round and idles while another is measured; the order rotates every round',
    ],
    connections: CONNECTIONS,
    seconds,
    rate: RATE,
    pacedSeconds: opts.pacedSeconds ?? PACED_SECONDS,
    generatedWorkers,
    cores,
    demo: demoResults,
    uvicorn: uvicornResults,
    skipped,
  }
}
