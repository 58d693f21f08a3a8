// Host addresses as programs use them: IPv6 literals unbracketed, loopback for wildcard binds, probe sources.

// An IPv6 literal may be written bracketed in the config ("[::1]"); programs want it bare.
export function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1')
}

// A server listening on every address (0.0.0.0, ::) is reached through loopback: that is where
// probes connect and where the proxy's upstreams point.
export function connectHost(host: string): string {
  const bare = bareHost(host)
  if (bare === '0.0.0.0') return '127.0.0.1'
  if (bare === '::') return '::1'
  return bare
}

// Probes of 127.0.0.1 leave from 127.0.0.2 where the system routes all of 127/8 to loopback (Linux):
// a probe of a port nothing listens on yet could otherwise pick that very port as its source and
// connect to itself, holding the port the server is about to bind. Dropped if that address is refused.
let otherLoopback = process.platform === 'linux'

export function probeSource(host: string): { localAddress?: string } {
  return otherLoopback && host === '127.0.0.1' ? { localAddress: '127.0.0.2' } : {}
}

// True when the failure was the source address itself: the caller retries from the default one.
export function sourceRefused(error: NodeJS.ErrnoException, source: { localAddress?: string }): boolean {
  if (!source.localAddress || (error.code !== 'EADDRNOTAVAIL' && error.code !== 'EINVAL')) return false
  otherLoopback = false
  return true
}
