// The single layout: the server without modules (the one behind the proxy at "/") runs once on the proxy's front port
// with the modules of every server behind the proxy, and no proxy runs. Everything else runs as the config says.
import { BackendManagerError } from '../core/errors.ts'
import { dependencyProblems } from './dependencies.ts'
import type { Config, Layout, ServerConfig, WatchConfig } from './types.ts'

// The servers the proxy routes to by path: the root and the module servers folded into it.
const byPath = (s: ServerConfig) =>
  s.kind === 'server' && s.port !== undefined && s.behind_proxy && s.protocol === 'http'

const unique = (names: string[]) => [...new Set(names)]

// How to run the config as it is instead: the way the single layout was asked for, turned around.
const multiInstead = (from: string) => (from.startsWith('--') ? 'run it with --layout multi' : 'set layout: multi')

// The layout a run uses: the flag's, else the config's `layout:`; and how a message names where it came from.
export function layoutOf(config: Config, flag: Layout | undefined): { layout: Layout; from: string } {
  return flag ? { layout: flag, from: `--layout ${flag}` } : { layout: config.layout, from: `layout: ${config.layout}` }
}

// Server names as the single layout runs them (--only): a folded server is the root that serves its modules.
export function servingNames(config: Config, names: string[] | undefined): string[] | undefined {
  const { folded } = config
  if (!folded || !names) return names
  return unique(names.map((n) => (folded.servers.includes(n) ? folded.into : n)))
}

// Every watch of the servers folded into the root, so a change to any of them restarts the one process serving them.
function mergedWatch(servers: ServerConfig[]): WatchConfig | undefined {
  const watches = servers.flatMap((s) => (s.watch ? [s.watch] : []))
  if (watches.length === 0) return undefined
  return {
    root: watches[0].root,
    paths: unique(watches.flatMap((w) => w.paths)),
    ignore: unique(watches.flatMap((w) => w.ignore)),
    debounce: Math.max(...watches.map((w) => w.debounce)),
  }
}

// The config as the single layout runs it (a new config; the one given is left as it is). `from` names the flag or
// key that asked for it in errors. depends_on, then_restart and {port:NAME} of a folded server mean the root.
export function singleLayout(config: Config, from = 'layout: single'): Config {
  const { file, proxy } = config
  const root = config.servers.find((s) => byPath(s) && s.modules.length === 0)
  const folded = config.servers.filter((s) => byPath(s) && s.modules.length > 0)
  const noProxy = { ...proxy, type: 'none' as const }
  if (!root && folded.length === 0) return { ...config, proxy: noProxy, layout: 'single' }
  if (!root)
    throw new BackendManagerError(
      'CONFIG',
      `${file}: ${from} runs one server without modules (the one behind the proxy at "/") with every module` +
        `, but every server behind the proxy has modules (${folded.map((s) => s.name).join(', ')})` +
        `; expected one server without modules: add one (e.g. a server with modules: [] that can load every` +
        ` module) or ${multiInstead(from)}`,
    )
  const into = new Set(folded.map((s) => s.name))
  const repoint = (names: string[], self: string) =>
    unique(names.map((n) => (into.has(n) ? root.name : n))).filter((n) => n !== self)
  const servers: ServerConfig[] = []
  for (const s of config.servers) {
    if (into.has(s.name)) continue
    if (s !== root) {
      const thenRestart = s.then_restart ? { then_restart: repoint(s.then_restart, s.name) } : {}
      servers.push({ ...s, depends_on: repoint(s.depends_on, s.name), ...thenRestart })
      continue
    }
    const watch = mergedWatch([root, ...folded])
    servers.push({
      ...root,
      port: proxy.port,
      host: proxy.host,
      instances: 1,
      modules: folded.flatMap((f) => f.modules),
      // What the modules waited for, the one process serving them waits for.
      depends_on: repoint([...root.depends_on, ...folded.flatMap((f) => f.depends_on)], root.name),
      ...(watch ? { watch } : {}),
    })
  }
  const single: Config = {
    ...config,
    proxy: noProxy,
    servers,
    layout: 'single',
    folded: { into: root.name, servers: [...into] },
  }
  checkFold(config, single, from)
  return single
}

// What the fold may break in a config that was valid: another server on the front port, or a dependency cycle.
function checkFold(config: Config, single: Config, from: string): void {
  const { file, proxy } = config
  const rootName = single.folded!.into
  const where = `${from}: with ${single.folded!.servers.join(', ')} served by "${rootName}"`
  config.servers.forEach((s, i) => {
    if (s.name === rootName || single.folded!.servers.includes(s.name) || s.port === undefined) return
    if (proxy.port >= s.port && proxy.port < s.port + s.instances)
      throw new BackendManagerError(
        'CONFIG',
        `${file}: servers[${i}].port: port ${proxy.port} of "${s.name}" is proxy.port, where ${from} runs` +
          ` "${rootName}"; expected another port for "${s.name}" (or another proxy.port)`,
      )
  })
  const cycle = dependencyProblems(single)[0]
  if (cycle)
    throw new BackendManagerError(
      'CONFIG',
      `${file}: ${where}, ${cycle.message}; remove the depends_on that closes it, or ${multiInstead(from)}`,
    )
}
