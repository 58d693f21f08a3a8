// The checks of a defaulted config: names, ports and overlaps, modules, values safe in proxy config, dependencies.
import fs from 'node:fs'
import type { Config, ServerConfig } from './types.ts'
import { proxyListeners } from './plan.ts'
import type { Problem } from './schema.ts'
import { dependencyProblems } from './dependencies.ts'
import { watching } from './watching.ts'

// A validator looks at the defaulted config and reports problems; it never throws.
// Each message reads `<what is wrong>, expected <what>`; the caller prefixes file and key path.
type Validator = (config: Config) => Problem[]

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/
const NAME_RULE = 'lowercase letters, digits, "-" and "_", starting with a letter or digit'
// Safe inside generated nginx/envoy config: no whitespace, quotes, ';', '{', '}', '#', '$' or '\'.
const URL_PATH_PATTERN = /^\/[A-Za-z0-9._~!*+,=:@%/-]*$/
const HEALTH_PATTERN = /^\/[A-Za-z0-9._~!*+,=:@%/?&-]*$/
const HOST_PATTERN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$/
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/
// A container image reference (registry/path:tag@digest): what compose and Kubernetes accept, nothing a YAML reader reads twice.
const IMAGE_PATTERN =
  /^[a-z0-9][a-z0-9._/-]*(?::[0-9]+\/[a-z0-9._/-]+)?(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/
// Set by the manager for every process (PORT only when the server has a port), so a value in env would be ignored.
export const MANAGER_ENV = ['HOST', 'SERVER_NAME', 'INSTANCE', 'ENABLED_MODULES', 'API_PREFIX']
const RESERVED_NAMES = ['nginx', 'envoy', 'supervisor']

const at = (i: number, key?: string) => `servers[${i}]${key ? `.${key}` : ''}`
const portRange = (s: ServerConfig) =>
  s.instances > 1 ? `ports ${s.port}-${s.port! + s.instances - 1}` : `port ${s.port}`
const quoted = (value: string) => JSON.stringify(value)

const names: Validator = ({ servers }) => {
  const out: Problem[] = []
  const seen = new Map<string, number>()
  servers.forEach((s, i) => {
    if (!NAME_PATTERN.test(s.name))
      out.push({ path: at(i, 'name'), message: `${quoted(s.name)} is not a valid name, expected ${NAME_RULE}` })
    else if (RESERVED_NAMES.includes(s.name))
      out.push({
        path: at(i, 'name'),
        message: `"${s.name}" is reserved for the manager's own processes, expected a name other than ${RESERVED_NAMES.join(', ')}`,
      })
    if (seen.has(s.name))
      out.push({
        path: at(i, 'name'),
        message: `"${s.name}" is already the name of servers[${seen.get(s.name)}], expected a unique name`,
      })
    else seen.set(s.name, i)
  })
  return out
}

const portsInRange: Validator = ({ servers }) =>
  servers.flatMap((s, i) =>
    s.port !== undefined && s.port + s.instances - 1 > 65535
      ? [
          {
            path: at(i, 'instances'),
            message: `${s.instances} instances from port ${s.port} run past 65535, expected at most ${65536 - s.port}`,
          },
        ]
      : [],
  )

// Every port the stack binds, with who binds it, so an overlap names both sides.
const portOverlaps: Validator = ({ servers, proxy }) => {
  const out: Problem[] = []
  const owners = new Map<number, string>()
  const claim = (port: number, owner: string, path: string, what: string) => {
    const previous = owners.get(port)
    if (previous)
      out.push({ path, message: `${what} overlap${what.startsWith('ports') ? '' : 's'} ${port} of ${previous}` })
    else owners.set(port, owner)
  }
  if (proxy.type !== 'none') {
    const listeners = proxyListeners(
      proxy,
      servers.filter((s) => s.port !== undefined && s.behind_proxy),
    )
    if (listeners.http !== undefined) owners.set(proxy.port, 'the proxy (proxy.port)')
    if (proxy.type === 'envoy')
      claim(
        proxy.admin_port,
        'the envoy admin (proxy.admin_port)',
        'proxy.admin_port',
        `port ${proxy.admin_port} of the envoy admin`,
      )
    if (listeners.grpc !== undefined)
      claim(
        proxy.grpc_port,
        'the gRPC proxy (proxy.grpc_port)',
        'proxy.grpc_port',
        `port ${proxy.grpc_port} of the gRPC proxy`,
      )
  }
  servers.forEach((s, i) => {
    if (s.port === undefined) return
    // One report per server: the first of its ports that someone else already binds.
    const before = out.length
    for (let k = 0; k < s.instances && out.length === before; k++)
      claim(s.port + k, `"${s.name}"`, at(i, 'port'), `${portRange(s)} of "${s.name}"`)
  })
  return out
}

const modules: Validator = ({ servers, proxy }) => {
  const out: Problem[] = []
  const owner = new Map<string, string>()
  servers.forEach((s, i) => {
    s.modules.forEach((m, k) => {
      const path = at(i, `modules[${k}]`)
      if (!NAME_PATTERN.test(m))
        out.push({ path, message: `${quoted(m)} is not a valid module name, expected ${NAME_RULE}` })
      else if (owner.has(m))
        out.push({
          path,
          message: `module "${m}" is already owned by "${owner.get(m)}", expected each module in one server only`,
        })
      else owner.set(m, s.name)
    })
    if (s.modules.length > 0 && s.port === undefined)
      out.push({
        path: at(i, 'modules'),
        message: `"${s.name}" has modules but no port, expected a port (the proxy routes modules to it) or no modules`,
      })
  })
  if (proxy.type !== 'none') {
    // The gRPC front port has one route ("/"): calls carry no module prefix to tell two servers apart.
    const grpc = servers.filter((s) => s.port !== undefined && s.behind_proxy && s.protocol === 'grpc')
    if (grpc.length > 1)
      out.push({
        path: at(servers.indexOf(grpc[1]), 'protocol'),
        message:
          `"${grpc[0].name}" and "${grpc[1].name}" are both gRPC servers behind the proxy` +
          `, expected at most one (set behind_proxy: false on the others)`,
      })
    const rootOwners = servers.filter(
      (s) => s.port !== undefined && s.behind_proxy && s.modules.length === 0 && s.protocol === 'http',
    )
    if (rootOwners.length > 1) {
      const [first, second] = rootOwners
      out.push({
        path: at(servers.indexOf(second), 'modules'),
        message:
          `"${first.name}" and "${second.name}" both have no modules` +
          `, expected only one server without modules (it owns "/" behind the proxy)` +
          `; set behind_proxy: false on the one that is not an HTTP server`,
      })
    }
  }
  return out
}

// Values that end up inside generated proxy config, where a quote or ';' would change its meaning.
const injectionSafe: Validator = ({ servers, proxy }) => {
  const out: Problem[] = []
  const badHost = (host: string) =>
    `${quoted(host)} is not a host name or IP address, expected e.g. 127.0.0.1 or localhost`
  if (!URL_PATH_PATTERN.test(proxy.api_prefix) || proxy.api_prefix.endsWith('/'))
    out.push({
      path: 'proxy.api_prefix',
      message:
        `${quoted(proxy.api_prefix)} is not a safe URL path` +
        `, expected "/" then letters, digits and "-._~/" (like "/api/v1"), with no trailing "/"`,
    })
  if (!HOST_PATTERN.test(proxy.host)) out.push({ path: 'proxy.host', message: badHost(proxy.host) })
  servers.forEach((s, i) => {
    // A server without its own host inherits proxy.host, which is reported once above.
    if (s.host !== proxy.host && !HOST_PATTERN.test(s.host)) out.push({ path: at(i, 'host'), message: badHost(s.host) })
    if (s.health !== 'tcp' && s.health !== 'none' && !HEALTH_PATTERN.test(s.health))
      out.push({
        path: at(i, 'health'),
        message:
          `${quoted(s.health)} is not a safe health check` +
          `, expected an HTTP path like "/health" (no spaces, quotes, ";", "{" or "}"), "tcp" or "none"`,
      })
    if (s.image !== undefined && !IMAGE_PATTERN.test(s.image))
      out.push({
        path: at(i, 'image'),
        message: `${quoted(s.image)} is not an image reference, expected e.g. "api", "ghcr.io/acme/api:1.2" or "api@sha256:..."`,
      })
  })
  return out
}

const envNames: Validator = ({ servers }) => {
  const out: Problem[] = []
  servers.forEach((s, i) => {
    for (const key of Object.keys(s.env)) {
      const path = at(i, `env.${key}`)
      if (!ENV_NAME_PATTERN.test(key))
        out.push({
          path,
          message: `${quoted(key)} is not a valid environment variable name, expected letters, digits and "_", not starting with a digit`,
        })
      else if (MANAGER_ENV.includes(key) || (key === 'PORT' && s.port !== undefined))
        out.push({
          path,
          message:
            `"${key}" is set by the manager for every process` +
            `, expected it left out (it follows the server's port, host, name and modules)`,
        })
    }
  })
  return out
}

const portNeeds: Validator = ({ servers }) => {
  const out: Problem[] = []
  servers.forEach((s, i) => {
    if (s.port !== undefined) return
    const words = Array.isArray(s.command) ? s.command.join(' ') : s.command
    if (s.health !== 'none')
      out.push({
        path: at(i, 'health'),
        message: `${quoted(s.health)} needs a port but "${s.name}" has none, expected "none" for a server without a port`,
      })
    if (words.includes('{port}'))
      out.push({
        path: at(i, 'command'),
        message: `uses {port} but "${s.name}" has no port, expected a port or a command without {port}`,
      })
    for (const [key, value] of Object.entries(s.env))
      if (value.includes('{port}'))
        out.push({
          path: at(i, `env.${key}`),
          message: `uses {port} but "${s.name}" has no port, expected a port or a value without {port}`,
        })
    if (s.protocol === 'grpc')
      out.push({
        path: at(i, 'protocol'),
        message: `"grpc" needs a port but "${s.name}" has none, expected a port or protocol "http"`,
      })
  })
  return out
}

// A task runs to completion: nothing listens for it, nothing restarts it.
const tasks: Validator = ({ servers }) =>
  servers.flatMap((s, i) => {
    if (s.kind !== 'task') return []
    const out: Problem[] = []
    if (s.port !== undefined)
      out.push({
        path: at(i, 'port'),
        message: `${s.port}: "${s.name}" is a task (it runs to completion), expected no port, or kind: server`,
      })
    if (s.restart !== 'no')
      out.push({
        path: at(i, 'restart'),
        message: `${quoted(s.restart)}: "${s.name}" is a task (it runs once), expected "no" or no restart key`,
      })
    return out
  })

const directories: Validator = ({ servers }) =>
  servers.flatMap((s, i) => {
    const problem = !fs.existsSync(s.cwd)
      ? 'does not exist'
      : !fs.statSync(s.cwd).isDirectory()
        ? 'is not a folder'
        : undefined
    return problem
      ? [
          {
            path: at(i, 'cwd'),
            message: `${quoted(s.cwd)} ${problem}, expected an existing folder (relative paths start at the config file's folder)`,
          },
        ]
      : []
  })

export const validators: Validator[] = [
  names,
  portsInRange,
  portOverlaps,
  modules,
  injectionSafe,
  envNames,
  portNeeds,
  tasks,
  directories,
  dependencyProblems,
  watching,
]

export function checkSemantics(config: Config): Problem[] {
  return validators.flatMap((validate) => validate(config))
}
