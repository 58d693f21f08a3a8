// Finding a binary: the first executable of that name on PATH, or the first candidate that runs, with its version.
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'

// The first executable regular file called `name` along PATH, like `which`.
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.resolve(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      if (fs.statSync(candidate).isFile()) return candidate
    } catch {
      // Not here; keep looking along PATH.
    }
  }
  return undefined
}

// What a binary prints (stdout then stderr) for a version flag, or undefined when it does not run:
// present but unable to run is not usable.
export function versionOutput(bin: string, args: string[], env: NodeJS.ProcessEnv): string | undefined {
  if (!fs.existsSync(bin)) return undefined
  const result = spawnSync(bin, args, { env, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] })
  return result.status === 0 ? `${result.stdout}${result.stderr}` : undefined
}

// The first candidate that runs (each path tried once), with the version it reports.
export function firstWorking<C extends { path: string }>(
  candidates: C[],
  version: (bin: string) => string | undefined,
): (C & { version: string }) | undefined {
  const seen = new Set<string>()
  for (const candidate of candidates) {
    if (seen.has(candidate.path)) continue
    seen.add(candidate.path)
    const found = version(candidate.path)
    if (found) return { ...candidate, version: found }
  }
  return undefined
}
