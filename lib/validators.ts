import fs from 'node:fs'
import type { Config, ServerConfig } from './config.ts'
import type { Problem } from './schema.ts'

// A validator looks at the defaulted config and reports problems; it never throws.
type Validator = (config: Config) => Problem[]

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/
// Safe inside generated nginx/envoy config: no whitespace, quotes, ';', '{', '}', '#', '$' or '\'.
const URL_PATH_PATTERN = /^\/[A-Za-z0-9._~!*+,=:@%/-]*$/
const HEALTH_PATTERN = /^\/[A-Za-z0-9._~!*+,=:@%/?&-]*$/
const HOST_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$/
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

const at = (i: number, key?: string) => `servers[${i}]${key ? `.${key}` : ''}`
const portRange = (s: ServerConfig) => (s.instances > 1 ? `ports ${s.port}-${s.port! + s.instances - 1}` : `port ${s.port}`)

const names: Validator = ({ servers }) => {
  const out: Problem[] = []
  const seen = new Map<string, number>()
  servers.forEach((s, i) => {
    if (!NAME_PATTERN.test(s.name)) out.push({ path: at(i, 'name'), message: `${JSON.stringify(s.name)} is not a valid name; expected lowercase letters, digits, "-" and "_", starting with a letter or digit` })
    else if (s.name === 'nginx' || s.name === 'envoy' || s.name === 'supervisor') out.push({ path: at(i, 'name'), message: `"${s.name}" is reserved for the manager's own processes; pick another name` })
    if (seen.has(s.name)) out.push({ path: at(i, 'name'), message: `"${s.name}" is already the name of servers[${seen.get(s.name)}]; names must be unique` })
    else seen.set(s.name, i)
  })
  return out
}

const portsInRange: Validator = ({ servers }) =>
  servers.flatMap((s, i) =>
    s.port !== undefined && s.port + s.instances - 1 > 65535
      ? [{ path: at(i, 'instances'), message: `${s.instances} instances from port ${s.port} run past 65535` }]
      : [],
  )

// Every port the stack binds, with who binds it, so overlaps can name both sides.
const portOverlaps: Validator = ({ servers, proxy }) => {
  const out: Problem[] = []
  const owners = new Map<number, string>()
  const claim = (port: number, owner: string, path: string, what: string) => {
    const previous = owners.get(port)
    if (previous) out.push({ path, message: `${what} overlap${what.startsWith('ports') ? '' : 's'} ${port} of ${previous}` })
    else owners.set(port, owner)
  }
  if (proxy.type !== 'none') {
    owners.set(proxy.port, `the proxy (proxy.port)`)
    if (proxy.type === 'envoy') claim(proxy.admin_port, 'the envoy admin (proxy.admin_port)', 'proxy.admin_port', `port ${proxy.admin_port} of the envoy admin`)
    if (servers.some((s) => s.protocol === 'grpc')) claim(proxy.grpc_port, 'the gRPC proxy (proxy.grpc_port)', 'proxy.grpc_port', `port ${proxy.grpc_port} of the gRPC proxy`)
  }
  servers.forEach((s, i) => {
    if (s.port === undefined) return
    const before = out.length
    for (let k = 0; k < s.instances && out.length === before; k++) claim(s.port + k, `"${s.name}"`, at(i, 'port'), `${portRange(s)} of "${s.name}"`)
  })
  return out
}

const modules: Validator = ({ servers, proxy }) => {
  const out: Problem[] = []
  const owner = new Map<string, string>()
  servers.forEach((s, i) => {
    s.modules.forEach((m, k) => {
      if (!NAME_PATTERN.test(m)) out.push({ path: at(i, `modules[${k}]`), message: `${JSON.stringify(m)} is not a valid module name; expected lowercase letters, digits, "-" and "_"` })
      else if (owner.has(m)) out.push({ path: at(i, `modules[${k}]`), message: `module "${m}" is already owned by "${owner.get(m)}"; a module belongs to one server` })
      else owner.set(m, s.name)
    })
    if (s.modules.length > 0 && s.port === undefined) out.push({ path: at(i, 'modules'), message: `"${s.name}" has modules but no port; the proxy can only route to a server with a port` })
  })
  if (proxy.type !== 'none') {
    const rootOwners = servers.filter((s) => s.port !== undefined && s.modules.length === 0 && s.protocol === 'http')
    if (rootOwners.length > 1) {
      const i = servers.indexOf(rootOwners[1])
      out.push({ path: at(i, 'modules'), message: `"${rootOwners[0].name}" and "${rootOwners[1].name}" both have no modules; only one server can own "/" behind the proxy` })
    }
  }
  return out
}

// Values that end up inside generated proxy config or the process environment.
const injectionSafe: Validator = ({ servers, proxy }) => {
  const out: Problem[] = []
  if (!URL_PATH_PATTERN.test(proxy.api_prefix) || proxy.api_prefix.endsWith('/'))
    out.push({ path: 'proxy.api_prefix', message: `${JSON.stringify(proxy.api_prefix)} is not a safe URL path; expected "/" followed by letters, digits and "-._~/", without a trailing "/"` })
  if (!HOST_PATTERN.test(proxy.host)) out.push({ path: 'proxy.host', message: `${JSON.stringify(proxy.host)} is not a host name or IP address` })
  servers.forEach((s, i) => {
    if (!HOST_PATTERN.test(s.host)) out.push({ path: at(i, 'host'), message: `${JSON.stringify(s.host)} is not a host name or IP address` })
    if (s.health !== 'tcp' && s.health !== 'none' && !HEALTH_PATTERN.test(s.health))
      out.push({ path: at(i, 'health'), message: `${JSON.stringify(s.health)} is not valid; expected an HTTP path like "/health" (no spaces, quotes, ";", "{", "}"), "tcp" or "none"` })
    for (const key of Object.keys(s.env))
      if (!ENV_NAME_PATTERN.test(key)) out.push({ path: at(i, `env.${key}`), message: `${JSON.stringify(key)} is not a valid environment variable name` })
  })
  return out
}

const portNeeds: Validator = ({ servers }) => {
  const out: Problem[] = []
  servers.forEach((s, i) => {
    const words = Array.isArray(s.command) ? s.command.join(' ') : s.command
    if (s.port !== undefined) return
    if (s.health !== 'none') out.push({ path: at(i, 'health'), message: `${JSON.stringify(s.health)} needs a port; "${s.name}" has none (use "none" for a portless worker)` })
    if (words.includes('{port}')) out.push({ path: at(i, 'command'), message: `uses {port} but "${s.name}" has no port` })
    if (s.protocol === 'grpc') out.push({ path: at(i, 'protocol'), message: `"grpc" needs a port; "${s.name}" has none` })
  })
  return out
}

const directories: Validator = ({ servers }) =>
  servers.flatMap((s, i) => (fs.existsSync(s.cwd) && fs.statSync(s.cwd).isDirectory() ? [] : [{ path: at(i, 'cwd'), message: `directory ${JSON.stringify(s.cwd)} does not exist` }]))

const dependencies: Validator = ({ servers }) => {
  const out: Problem[] = []
  const byName = new Map(servers.map((s) => [s.name, s]))
  servers.forEach((s, i) =>
    s.depends_on.forEach((d, k) => {
      if (d === s.name) out.push({ path: at(i, `depends_on[${k}]`), message: `"${s.name}" cannot depend on itself` })
      else if (!byName.has(d)) out.push({ path: at(i, `depends_on[${k}]`), message: `unknown server "${d}"; expected one of ${[...byName.keys()].join(', ')}` })
    }),
  )
  if (out.length > 0) return out
  // Depth-first search; a grey node met again closes a cycle.
  const colour = new Map<string, 'grey' | 'black'>()
  const visit = (name: string, trail: string[]): string[] | undefined => {
    if (colour.get(name) === 'black') return undefined
    if (colour.get(name) === 'grey') return [...trail.slice(trail.indexOf(name)), name]
    colour.set(name, 'grey')
    for (const d of byName.get(name)!.depends_on) {
      const cycle = visit(d, [...trail, name])
      if (cycle) return cycle
    }
    colour.set(name, 'black')
    return undefined
  }
  for (const [i, s] of servers.entries()) {
    const cycle = visit(s.name, [])
    if (cycle) return [{ path: at(i, 'depends_on'), message: `dependency cycle ${cycle.map((n) => `"${n}"`).join(' -> ')}` }]
  }
  return out
}

export const validators: Validator[] = [names, portsInRange, portOverlaps, modules, injectionSafe, portNeeds, directories, dependencies]

export function checkSemantics(config: Config): Problem[] {
  return validators.flatMap((validate) => validate(config))
}
