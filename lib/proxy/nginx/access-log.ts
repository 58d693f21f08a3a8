// nginx's JSON access log (the backend_json format of templates/nginx.conf), read for request rates and times:
// the monitor's per-instance rates and percentiles, the dashboard's requests per second.
export interface Sample {
  at: number
  upstream: string
  ms: number
}

// One access-log line (nginx's backend_json format) as a sample; undefined for a line nginx answered itself.
export function accessSample(line: string, at: number): Sample | undefined {
  try {
    const entry = JSON.parse(line) as { upstream?: unknown; upstream_time?: unknown; request_time?: unknown }
    if (typeof entry.upstream !== 'string' || !entry.upstream || entry.upstream === '-') return undefined
    // A retried request names every upstream it tried; the last one answered it.
    const upstream = entry.upstream
      .split(/[,:] (?=\S)/)
      .pop()!
      .trim()
    const seconds = Number(
      String(entry.upstream_time ?? entry.request_time)
        .split(/[,:] /)
        .pop(),
    )
    return { at, upstream, ms: Number.isFinite(seconds) ? seconds * 1000 : 0 }
  } catch {
    return undefined
  }
}
