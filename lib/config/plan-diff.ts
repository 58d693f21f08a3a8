// What changes between the plan a stack runs and a new one: servers and instances added, removed, changed (and
// why), unchanged, and the proxy's routes and upstreams. Pure: `apply` prints it and acts on it.
import { proxyListeners, type Plan, type ProcessSpec, type Readiness } from './plan.ts'
import { formatSize } from './size.ts'

// What the manager itself puts in every environment: told apart from the user's env (its changes have own names).
const MANAGED_ENV = new Set(['HOST', 'SERVER_NAME', 'INSTANCE', 'ENABLED_MODULES', 'API_PREFIX', 'PORT'])

export interface ServerDiff {
  name: string
  why: string[]
  // Instance ids: started, stopped, restarted with a new spec, given a new spec in place (no restart), left alone.
  added: string[]
  removed: string[]
  restarted: string[]
  updated: string[]
  unchanged: string[]
}

export interface PlanDiff {
  servers: { added: string[]; removed: string[]; changed: ServerDiff[]; unchanged: string[] }
  instances: {
    // New specs, in the new plan's start order.
    added: ProcessSpec[]
    removed: string[]
    restarted: ProcessSpec[]
    updated: ProcessSpec[]
    unchanged: string[]
  }
  // The proxy's routes and upstreams, one line per change.
  proxy: string[]
  // A change the running proxy cannot take without a restart (its type, where it listens): nothing is applied.
  refused?: string
}

const show = (v: unknown) => JSON.stringify(v)
const readiness = (r: Readiness) => (r.kind === 'http' ? `http ${r.path}` : r.kind)
const modules = (p: ProcessSpec) => `[${p.env.ENABLED_MODULES ? p.env.ENABLED_MODULES.split(',').join(', ') : ''}]`

const checkWords = ({ health: h }: ProcessSpec) =>
  h
    ? `${h.check.kind === 'command' ? h.check.command : readiness(h.check)} every ${h.intervalMs / 1000} s` +
      ` (timeout ${h.timeoutMs / 1000} s, retries ${h.retries}, start_period ${h.startPeriodMs / 1000} s)`
    : 'none'
const memoryWords = (p: ProcessSpec) => (p.maxMemoryBytes === undefined ? 'none' : formatSize(p.maxMemoryBytes))

// Which changes need the process started again (what it runs as) and which only change how it is watched.
function compare(a: ProcessSpec, b: ProcessSpec): { why: string[]; restart: boolean } {
  const restart: string[] = []
  const watch: string[] = []
  if (show(a.argv) !== show(b.argv)) restart.push(`command ${show(a.command)} -> ${show(b.command)}`)
  if (a.port !== b.port) restart.push(`port ${a.port ?? 'none'} -> ${b.port ?? 'none'}`)
  if (a.host !== b.host) restart.push(`host ${a.host} -> ${b.host}`)
  if (a.cwd !== b.cwd) restart.push(`cwd ${a.cwd} -> ${b.cwd}`)
  if (a.env.ENABLED_MODULES !== b.env.ENABLED_MODULES) restart.push(`modules ${modules(a)} -> ${modules(b)}`)
  if (a.env.API_PREFIX !== b.env.API_PREFIX) restart.push(`api_prefix ${a.env.API_PREFIX} -> ${b.env.API_PREFIX}`)
  // Names only: values may be secrets.
  const keys = [...new Set([...Object.keys(a.env), ...Object.keys(b.env)])].filter((k) => !MANAGED_ENV.has(k)).sort()
  for (const k of keys) {
    if (!Object.hasOwn(b.env, k)) restart.push(`env ${k} removed`)
    else if (!Object.hasOwn(a.env, k)) restart.push(`env ${k} added`)
    else if (a.env[k] !== b.env[k]) restart.push(`env ${k} changed`)
  }
  if (readiness(a.readiness) !== readiness(b.readiness))
    watch.push(`health ${readiness(a.readiness)} -> ${readiness(b.readiness)}`)
  // A changed readiness check changes the check after ready too: said once, above.
  if (show(a.health) !== show(b.health) && readiness(a.readiness) === readiness(b.readiness))
    watch.push(`health after ready ${checkWords(a)} -> ${checkWords(b)}`)
  if (a.maxMemoryBytes !== b.maxMemoryBytes) watch.push(`max_memory ${memoryWords(a)} -> ${memoryWords(b)}`)
  if (a.protocol !== b.protocol) watch.push(`protocol ${a.protocol} -> ${b.protocol}`)
  if (a.restart !== b.restart) watch.push(`restart ${a.restart} -> ${b.restart}`)
  if (a.maxRestarts !== b.maxRestarts) watch.push(`max_restarts ${a.maxRestarts} -> ${b.maxRestarts}`)
  if (a.readyTimeoutMs !== b.readyTimeoutMs)
    watch.push(`ready_timeout ${a.readyTimeoutMs / 1000} -> ${b.readyTimeoutMs / 1000}`)
  if (a.stopTimeoutMs !== b.stopTimeoutMs)
    watch.push(`stop_timeout ${a.stopTimeoutMs / 1000} -> ${b.stopTimeoutMs / 1000}`)
  if (show(a.watch) !== show(b.watch) || show(a.thenRestart) !== show(b.thenRestart)) watch.push('watch changed')
  if (show(a.dependsOn) !== show(b.dependsOn))
    watch.push(`depends_on [${a.dependsOn.join(', ')}] -> [${b.dependsOn.join(', ')}]`)
  return { why: [...restart, ...watch], restart: restart.length > 0 }
}

function byServer(plan: Plan): Map<string, ProcessSpec[]> {
  const map = new Map<string, ProcessSpec[]>()
  for (const p of plan.processes) map.set(p.server, [...(map.get(p.server) ?? []), p])
  return map
}

// Why a running proxy cannot take the new plan by a reload; undefined when it can.
function proxyRefusal(from: Plan, to: Plan): string | undefined {
  const restart = 'cannot be applied to a running stack; use "restart" to run the new config'
  // resolvePlan runs no proxy for a plan with nothing behind it: said as such, not as a type the user did not write.
  const type = (p: Plan) => (p.upstreams.length === 0 ? 'none (no server behind it)' : p.proxy.type)
  if (from.proxy.type !== to.proxy.type) return `proxy.type: ${type(from)} -> ${type(to)} ${restart}`
  if (to.proxy.type === 'none') return undefined
  // Only what the running proxy listens on: a gRPC port with no gRPC server, or Envoy's admin port under nginx, is unused.
  const a = proxyListeners(from.proxy, from.upstreams)
  const b = proxyListeners(to.proxy, to.upstreams)
  const listens = (key: string, x: unknown, y: unknown) =>
    x === y ? undefined : `proxy.${key}: ${x ?? 'none'} -> ${y ?? 'none'} (where the proxy listens) ${restart}`
  return (
    listens('host', from.proxy.host, to.proxy.host) ??
    listens('port', a.http, b.http) ??
    listens('grpc_port', a.grpc, b.grpc) ??
    (to.proxy.type === 'envoy' ? listens('admin_port', from.proxy.admin_port, to.proxy.admin_port) : undefined)
  )
}

function proxyChanges(from: Plan, to: Plan): string[] {
  const lines: string[] = []
  const routeKey = (r: Plan['routes'][number]) => r.path
  const before = new Map(from.routes.map((r) => [routeKey(r), r]))
  const after = new Map(to.routes.map((r) => [routeKey(r), r]))
  for (const [path, r] of after) {
    const old = before.get(path)
    if (!old) lines.push(`route ${path} -> ${r.upstream} added`)
    else if (old.upstream !== r.upstream) lines.push(`route ${path}: ${old.upstream} -> ${r.upstream}`)
  }
  for (const path of before.keys()) if (!after.has(path)) lines.push(`route ${path} removed`)
  const ups = new Map(from.upstreams.map((u) => [u.name, u]))
  const next = new Map(to.upstreams.map((u) => [u.name, u]))
  for (const [name, u] of next) {
    const old = ups.get(name)
    if (!old) lines.push(`upstream ${name} added (ports ${u.ports.join(', ')})`)
    else if (show(old.ports) !== show(u.ports))
      lines.push(`upstream ${name}: ports ${old.ports.join(', ')} -> ${u.ports.join(', ')}`)
    else if (show(old) !== show(u)) lines.push(`upstream ${name} changed`)
  }
  for (const name of ups.keys()) if (!next.has(name)) lines.push(`upstream ${name} removed`)
  return lines
}

export function diffPlans(from: Plan, to: Plan): PlanDiff {
  const diff: PlanDiff = {
    servers: { added: [], removed: [], changed: [], unchanged: [] },
    instances: { added: [], removed: [], restarted: [], updated: [], unchanged: [] },
    proxy: [],
  }
  const old = byServer(from)
  const now = byServer(to)
  for (const [name, specs] of now) {
    const before = old.get(name)
    if (!before) {
      diff.servers.added.push(name)
      diff.instances.added.push(...specs)
      continue
    }
    const server: ServerDiff = { name, why: [], added: [], removed: [], restarted: [], updated: [], unchanged: [] }
    if (before.length !== specs.length) server.why.push(`instances ${before.length} -> ${specs.length}`)
    for (const spec of specs) {
      const was = before.find((p) => p.id === spec.id)
      if (!was) {
        server.added.push(spec.id)
        diff.instances.added.push(spec)
        continue
      }
      const { why, restart } = compare(was, spec)
      for (const w of why) if (!server.why.includes(w)) server.why.push(w)
      const into = why.length === 0 ? 'unchanged' : restart ? 'restarted' : 'updated'
      server[into].push(spec.id)
      if (into === 'unchanged') diff.instances.unchanged.push(spec.id)
      else diff.instances[into].push(spec)
    }
    for (const p of before) if (!specs.some((s) => s.id === p.id)) server.removed.push(p.id)
    diff.instances.removed.push(...server.removed)
    if (server.why.length === 0) diff.servers.unchanged.push(name)
    else diff.servers.changed.push(server)
  }
  for (const [name, specs] of old) {
    if (now.has(name)) continue
    diff.servers.removed.push(name)
    diff.instances.removed.push(...specs.map((p) => p.id))
  }
  diff.refused = proxyRefusal(from, to)
  if (!diff.refused) diff.proxy = proxyChanges(from, to)
  return diff
}

export function hasChanges(diff: PlanDiff): boolean {
  const i = diff.instances
  return (
    diff.refused !== undefined ||
    diff.proxy.length > 0 ||
    i.added.length + i.removed.length + i.restarted.length + i.updated.length > 0
  )
}

const ids = (list: string[]) => list.join(', ')

// The diff for reading, one line per server and one for the proxy: what `apply` prints.
export function describeDiff(diff: PlanDiff): string[] {
  if (diff.refused) return [`refused  ${diff.refused}`]
  const lines: string[] = []
  const added = new Map<string, string[]>()
  for (const p of diff.instances.added) added.set(p.server, [...(added.get(p.server) ?? []), p.id])
  for (const name of diff.servers.added) lines.push(`added    ${name} (${ids(added.get(name) ?? [])})`)
  for (const name of diff.servers.removed) lines.push(`removed  ${name}`)
  for (const s of diff.servers.changed) {
    const acts = [
      s.added.length ? `start ${ids(s.added)}` : '',
      s.removed.length ? `stop ${ids(s.removed)}` : '',
      s.restarted.length ? `restart ${ids(s.restarted)}` : '',
      s.updated.length ? `update ${ids(s.updated)} in place` : '',
    ].filter(Boolean)
    lines.push(`changed  ${s.name}: ${s.why.join('; ')} (${acts.join('; ')})`)
  }
  for (const line of diff.proxy) lines.push(`proxy    ${line}`)
  if (diff.servers.unchanged.length) lines.push(`unchanged ${ids(diff.servers.unchanged)}`)
  return lines
}
