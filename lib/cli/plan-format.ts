// A plan for reading: every process with its port, command and environment, and every route; or as JSON.
import { proxyListeners, type Plan } from '../config/plan.ts'
import { table } from '../core/table.ts'
import { plural } from '../core/words.ts'

// The proxy's front ports: HTTP on `listen`, gRPC (HTTP/2) on `grpc_listen`.
function proxyJson(plan: Plan) {
  if (plan.proxy.type === 'none') return null
  const { http, grpc } = proxyListeners(plan.proxy, plan.upstreams)
  const at = (port: number) => `${plan.proxy.host}:${port}`
  return {
    type: plan.proxy.type,
    ...(http === undefined ? {} : { listen: at(http) }),
    ...(grpc === undefined ? {} : { grpc_listen: at(grpc) }),
  }
}

// Servers the running stack runs at another count than the config's (scaled): both counts.
function scaledJson(plan: Plan): Record<string, { config: number; running: number }> | undefined {
  if (!plan.scaled) return undefined
  const running = (name: string) => plan.processes.filter((p) => p.server === name).length
  return Object.fromEntries(
    Object.entries(plan.scaled).map(([name, config]) => [name, { config, running: running(name) }]),
  )
}

export function planJson(plan: Plan) {
  return {
    config: plan.file,
    layout: plan.layout ?? 'multi',
    // The single layout: the process serving every module, and the servers it serves them for.
    ...(plan.folded ? { folded: { into: `${plan.folded.into}-0`, servers: plan.folded.servers } } : {}),
    ...(plan.scaled ? { scaled: scaledJson(plan) } : {}),
    ...(plan.onFailure ? { on_failure: plan.onFailure } : {}),
    ...(plan.afterStop ? { after_stop: plan.afterStop.commands } : {}),
    proxy: proxyJson(plan),
    processes: plan.processes.map((p) => ({
      id: p.id,
      server: p.server,
      instance: p.instance,
      port: p.port ?? null,
      command: p.command,
      cwd: p.cwd,
      env: p.env,
      ...(p.task ? { kind: 'task' } : {}),
      readiness: p.task ? 'exit 0' : p.readiness.kind === 'http' ? `http ${p.readiness.path}` : p.readiness.kind,
      depends_on: p.dependsOn,
      ...(p.watch ? { watch: { paths: p.watch.paths, ignore: p.watch.ignore, debounce: p.watch.debounce } } : {}),
      ...(p.thenRestart ? { then_restart: p.thenRestart } : {}),
    })),
    routes: plan.routes.map((r) => ({
      path: r.path,
      websocket: r.websocket,
      upstream: r.upstream,
      ports: plan.upstreams.find((u) => u.name === r.upstream)!.ports,
    })),
  }
}

export function formatPlan(plan: Plan): string {
  const json = planJson(plan)
  const processes = table(
    ['PROCESS', 'PORT', 'READY WHEN', 'COMMAND', 'ENV'],
    json.processes.map((p) => [
      'kind' in p ? `${p.id} (task)` : p.id,
      p.port === null ? '-' : String(p.port),
      p.readiness,
      p.command,
      Object.entries(p.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ]),
  )
  const fronts = json.proxy
    ? [json.proxy.listen, json.proxy.grpc_listen && `${json.proxy.grpc_listen} (gRPC)`].filter(Boolean).join(' and ')
    : ''
  const proxy = json.proxy ? `${json.proxy.type} on ${fronts}` : 'none'
  const routes = json.routes.length
    ? table(
        ['PATH', 'KIND', 'UPSTREAM', 'PORTS'],
        json.routes.map((r) => [r.path, r.websocket ? 'websocket' : 'http', r.upstream, r.ports.join(',')]),
      )
    : '(no routes)\n'
  const back = (name: string, config: number) => `"scale ${name}=${config}" goes back`
  const scaled = Object.entries(json.scaled ?? {})
    .map(
      ([n, c]) =>
        `${n} runs ${plural(c.running, 'instance')}, scaled from ${c.config} in the config (${back(n, c.config)})\n`,
    )
    .join('')
  const head = `Config: ${plan.file}\n${layoutLine(plan)}\nProcesses (start order):\n${processes}${scaled}`
  const hooks =
    (plan.onFailure ? 'On failure: stop-all (a server that fails for good stops the whole stack)\n' : '') +
    (plan.afterStop ? `After stop: ${plan.afterStop.commands.join(' ; ')} (in ${plan.afterStop.cwd})\n` : '')
  return `${head}\nProxy: ${proxy}\n${hooks}${json.proxy ? `\nRoutes:\n${routes}` : ''}${watched(plan)}`
}

// The single layout: which servers the one process serves, and where (the multi layout, the default, goes unsaid).
function layoutLine(plan: Plan): string {
  if (plan.layout !== 'single') return ''
  const root = plan.folded && plan.processes.find((p) => p.server === plan.folded!.into)
  const what = root ? `${plan.folded!.servers.join(', ')} folded into ${root.id} on ${root.host}:${root.port}; ` : ''
  return `Layout: single (${what}no proxy)\n`
}

// What `start --watch` acts on: one line per server with `watch:`.
function watched(plan: Plan): string {
  const seen = new Set<string>()
  const lines = plan.processes.flatMap((p) => {
    if (!p.watch || seen.has(p.server)) return []
    seen.add(p.server)
    const ignore = p.watch.ignore.length ? `, ignoring ${p.watch.ignore.join(', ')}` : ''
    const then = p.thenRestart ? `, then restarts ${p.thenRestart.join(', ')}` : ''
    return [`${p.server}: ${p.watch.paths.join(', ')}${ignore} (debounce ${p.watch.debounce} ms${then})\n`]
  })
  return lines.length ? `\nWatched with start --watch:\n${lines.join('')}` : ''
}
