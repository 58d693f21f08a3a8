// An IPv6 literal may be written bracketed in the config ("[::1]"); programs want it bare.
export function bareHost(host: string): string {
  return host.replace(/^\[|\]$/g, '')
}

// A server listening on every address (0.0.0.0, ::) is reached through loopback: that is where
// probes connect and where the proxy's upstreams point.
export function connectHost(host: string): string {
  const bare = bareHost(host)
  if (bare === '0.0.0.0') return '127.0.0.1'
  if (bare === '::') return '::1'
  return bare
}
