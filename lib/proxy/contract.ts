// What every proxy (nginx, Envoy) shares: the managed process it runs as, the health path it forwards, and the
// checks that keep a value from the config from breaking out of the config file it is written into.
import path from 'node:path'
import { BackendManagerError } from '../core/errors.ts'
import type { ProcessSpec } from '../config/plan.ts'
import { bareHost } from '../os/hosts.ts'

// nginx answers this path by asking one server's upstream for its health path, so `health` can
// show that the proxy reaches every server, not only that each server answers on its own port.
export const PROXY_HEALTH_PREFIX = '/__backend-manager/health/'

// The proxy runs like any other managed process; the caller renders its config in `prepare`.
export interface ProxyProcess {
  spec: ProcessSpec
  logFile: string
  // `drained`: instance ids marked down (paused ones), where the proxy's config can say so.
  prepare(drained?: string[]): { changed: boolean }
  reload(pid: number): void
}

// Characters that could end a directive, open a block, start a comment, or expand a variable.
const UNSAFE_TOKEN = /[\s;{}'"#$\\]/
// Filesystem paths may hold plain spaces (they are quoted); any other whitespace or special is refused.
const UNSAFE_PATH = /[^\S ]|[;{}'"#$\\]/

export const refuse = (what: string, value: string, rule: string) =>
  new BackendManagerError('CONFIG', `${what} ${JSON.stringify(value)} cannot go into the proxy config: ${rule}`)

export function safeToken(what: string, value: string): string {
  if (value === '' || UNSAFE_TOKEN.test(value))
    throw refuse(what, value, 'it must be non-empty, without whitespace, ";", "{", "}", quotes, "#", "$" or "\\"')
  return value
}

export function safePath(what: string, value: string): string {
  if (!path.isAbsolute(value) || UNSAFE_PATH.test(value))
    throw refuse(
      what,
      value,
      'expected an absolute path without tabs, newlines, ";", "{", "}", quotes, "#", "$" or "\\"',
    )
  return value.includes(' ') ? `"${value}"` : value
}

// IPv6 literals need brackets before ":port"; a host given already bracketed is kept as is.
export function hostPort(host: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw refuse('port', String(port), 'expected 1-65535')
  const bare = bareHost(safeToken('host', host))
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`
}
