// --port-offset N (or BACKEND_MANAGER_PORT_OFFSET): every port of a config moved by N, so a second copy of a stack
// (another checkout, another home) runs beside the first.
import { usageError } from '../core/errors.ts'
import { proxyListeners } from './plan.ts'
import type { Config, Layout } from './types.ts'

export const PORT_OFFSET_ENV = 'BACKEND_MANAGER_PORT_OFFSET'
export const PORT_OFFSET_FLAG = '--port-offset'

export interface PortOffset {
  value: number
  // Where it was given (the flag, the variable, the running stack), for messages.
  from: string
}

// The flag's value, else the variable's; undefined when neither is given. A bad value names where it came from.
export function portOffsetOf(flag: string | undefined, env: NodeJS.ProcessEnv): PortOffset | undefined {
  const given = flag ?? env[PORT_OFFSET_ENV]
  if (given === undefined || (flag === undefined && given === '')) return undefined
  const from = flag !== undefined ? PORT_OFFSET_FLAG : PORT_OFFSET_ENV
  const value = Number(given)
  if (!/^\d+$/.test(given.trim()) || value > 65534)
    throw usageError(
      `${from}: ${JSON.stringify(given)} is not a whole number from 0 to 65534` +
        `, expected the number added to every port of the config (e.g. ${PORT_OFFSET_FLAG} 100)`,
    )
  return { value, from }
}

// Every port the config binds moved by the offset; one past 65535 refuses the offset, naming the port and the
// largest offset the config allows. A port the stack does not bind (envoy's admin port under nginx) moves if it can.
export function shiftPorts(config: Config, offset: PortOffset): void {
  const n = offset.value
  if (n === 0) return
  const { proxy } = config
  const routed = config.servers.filter((s) => s.port !== undefined && s.behind_proxy)
  const listeners = proxyListeners(proxy, routed)
  const bound: { key: string; last: number }[] = []
  if (listeners.http !== undefined) bound.push({ key: 'proxy.port', last: proxy.port })
  if (listeners.grpc !== undefined) bound.push({ key: 'proxy.grpc_port', last: proxy.grpc_port })
  if (proxy.type === 'envoy') bound.push({ key: 'proxy.admin_port', last: proxy.admin_port })
  config.servers.forEach((s, i) => {
    if (s.port !== undefined) bound.push({ key: `servers[${i}].port`, last: s.port + s.instances - 1 })
  })
  const highest = bound.reduce((a, b) => (b.last > a.last ? b : a), { key: '', last: 0 })
  if (highest.last + n > 65535)
    throw usageError(
      `${offset.from} ${n}: moves ${highest.key} of ${config.file} to ${highest.last + n}, past 65535` +
        `, expected an offset of at most ${65535 - highest.last}`,
    )
  const move = (port: number) => (port + n <= 65535 ? port + n : port)
  config.proxy = {
    ...proxy,
    port: move(proxy.port),
    grpc_port: move(proxy.grpc_port),
    admin_port: move(proxy.admin_port),
  }
  for (const s of config.servers) if (s.port !== undefined) s.port += n
  config.portOffset = n
}

// How restart and apply read a running stack's config again: with the ${VAR} values its start read from its
// environment (over `env`; one unset then stays unset), its port offset unless another is given, and its layout.
export function asStarted(
  running: { variables?: Record<string, string | null>; portOffset?: number; layout?: Layout } | undefined,
  given: PortOffset | undefined,
  env: NodeJS.ProcessEnv,
): { env: NodeJS.ProcessEnv; portOffset?: PortOffset; layout?: Layout } {
  const offset = running?.portOffset
    ? { value: running.portOffset, from: "the running stack's port offset" }
    : undefined
  const read: NodeJS.ProcessEnv = { ...env }
  for (const [name, value] of Object.entries(running?.variables ?? {}))
    if (value === null) delete read[name]
    else read[name] = value
  // A plan without a layout ran the multi one, whatever the config's `layout:` says now.
  return { env: read, portOffset: given ?? offset, layout: running ? (running.layout ?? 'multi') : undefined }
}

// status and stop act on the home's stack whatever its offset: --port-offset there names the copy meant, and a
// stack running with another offset is said (not a copy the user meant). The variable is not a check: it may be
// exported for another copy in the same shell.
// `running` is undefined when no stack runs here (nothing to compare with).
export function offsetMismatch(flag: string | undefined, running: number | undefined): string | undefined {
  const given = portOffsetOf(flag, {})
  if (!given || running === undefined || given.value === running) return undefined
  return `runs with port offset ${running}, not ${given.value} (${PORT_OFFSET_FLAG})`
}
