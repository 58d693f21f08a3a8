// Standalone nginx builds published by https://github.com/jirutka/nginx-binaries: static binaries for
// Linux and macOS, listed in <BINARIES_URL>/index.json with a SHA-1 for every file.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { BackendManagerError } from '../../core/errors.ts'

export const BINARIES_URL = 'https://jirutka.github.io/nginx-binaries'

export interface BinaryEntry {
  name: string
  version: string
  // '' is the default build; others (e.g. 'debug') are never picked.
  variant: string
  os: string
  arch: string
  filename: string
  size: number
  sha1: string
}

// Format 2 writes `checksum: "sha1:<hex>"`; older indexes wrote `checksum`/`integrity: "sha1-<hex>"`.
export function parseChecksum(raw: Record<string, unknown>): string | undefined {
  for (const key of ['checksum', 'integrity']) {
    const match = /^sha1[:-]([0-9a-f]{40})$/i.exec(typeof raw[key] === 'string' ? raw[key] : '')
    if (match) return match[1].toLowerCase()
  }
  return undefined
}

// Entries we cannot use safely (no SHA-1, odd file names) are dropped rather than trusted.
export function parseBinaryIndex(json: unknown): BinaryEntry[] {
  const contents = (json as { contents?: unknown } | null)?.contents
  if (!Array.isArray(contents))
    throw new BackendManagerError('NGINX', 'nginx-binaries index: expected an object with a "contents" list')
  return contents.flatMap((raw): BinaryEntry[] => {
    if (raw === null || typeof raw !== 'object') return []
    const r = raw as Record<string, unknown>
    const text = (key: string) => (typeof r[key] === 'string' ? (r[key] as string) : undefined)
    const [name, version, os, arch, filename] = [
      text('name'),
      text('version'),
      text('os'),
      text('arch'),
      text('filename'),
    ]
    const sha1 = parseChecksum(r)
    if (!name || !version || !os || !arch || !filename || !sha1) return []
    // The file name becomes part of a URL and a local path.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(filename) || !/^\d+(\.\d+)*$/.test(version)) return []
    return [
      {
        name,
        version,
        variant: text('variant') ?? '',
        os,
        arch,
        filename,
        size: typeof r.size === 'number' ? r.size : 0,
        sha1,
      },
    ]
  })
}

// Node's process.platform/arch in the index's names, most preferred first. Apple silicon runs
// arm64 builds (published since 1.25.5) and falls back to x86_64 through Rosetta.
export function indexTargets(platform: string, arch: string): { os: string; archs: string[] } {
  const archs: Record<string, string[]> = {
    x64: ['x86_64'],
    arm64: platform === 'darwin' ? ['arm64', 'aarch64', 'x86_64'] : ['aarch64'],
    ppc64: ['ppc64le'],
    arm: ['armv7', 'armv7l'],
  }
  return { os: platform, archs: archs[arch] ?? [arch] }
}

export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
  return 0
}

// nginx stable branches have an even minor version; mainline is odd.
const isStable = (version: string) => Number(version.split('.')[1]) % 2 === 0

// The default nginx build for this OS/arch: preferred arch first, then the newest stable, else newest.
export function pickBuild(entries: BinaryEntry[], platform: string, arch: string): BinaryEntry | undefined {
  const target = indexTargets(platform, arch)
  const rank = (e: BinaryEntry) => target.archs.indexOf(e.arch)
  const candidates = entries.filter((e) => e.name === 'nginx' && e.variant === '' && e.os === target.os && rank(e) >= 0)
  candidates.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      Number(isStable(b.version)) - Number(isStable(a.version)) ||
      compareVersions(b.version, a.version),
  )
  return candidates[0]
}

export function sha1Of(data: Uint8Array): string {
  return crypto.createHash('sha1').update(data).digest('hex')
}

export function verifySha1(data: Uint8Array, expected: string, what: string): void {
  const actual = sha1Of(data)
  if (actual !== expected.toLowerCase())
    throw new BackendManagerError(
      'NGINX',
      `${what}: SHA-1 mismatch (expected ${expected}, got ${actual}); the download is corrupt or was tampered with, nothing was installed`,
    )
}

async function fetchBytes(url: string, timeoutMs: number): Promise<Uint8Array> {
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message
    throw new BackendManagerError('NGINX', `cannot download ${url}: ${cause}`)
  }
  if (!response.ok) throw new BackendManagerError('NGINX', `cannot download ${url}: HTTP ${response.status}`)
  return new Uint8Array(await response.arrayBuffer())
}

export interface DownloadOptions {
  baseUrl?: string
  platform?: string
  arch?: string
  timeoutMs?: number
}

// Fetch the index, pick the build, download it and check its SHA-1 before it lands at `dest`.
export async function downloadStandalone(
  dest: string,
  log: (line: string) => void,
  opts: DownloadOptions = {},
): Promise<BinaryEntry> {
  const base = (opts.baseUrl ?? BINARIES_URL).replace(/\/$/, '')
  const timeoutMs = opts.timeoutMs ?? 60_000
  const platform = opts.platform ?? process.platform
  const arch = opts.arch ?? process.arch
  const indexBytes = await fetchBytes(`${base}/index.json`, timeoutMs)
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(indexBytes).toString('utf8'))
  } catch {
    throw new BackendManagerError('NGINX', `${base}/index.json is not JSON`)
  }
  const entry = pickBuild(parseBinaryIndex(json), platform, arch)
  if (!entry) throw new BackendManagerError('NGINX', `${base} has no standalone nginx build for ${platform}/${arch}`)
  log(`downloading ${entry.filename} from ${base}`)
  const data = await fetchBytes(`${base}/${entry.filename}`, timeoutMs)
  verifySha1(data, entry.sha1, entry.filename)
  // Written beside the target and renamed, so a half-written binary is never at `dest`.
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  const partial = `${dest}.download`
  fs.writeFileSync(partial, data, { mode: 0o755 })
  fs.renameSync(partial, dest)
  return entry
}
