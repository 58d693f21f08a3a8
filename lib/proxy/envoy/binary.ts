// Which envoy binary the stack uses, how it is run, and `envoy --mode validate`. There is no
// installer: Envoy ships no portable standalone build whose checksum we could verify here.
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { BackendManagerError } from '../../core/errors.ts'
import { packageRoot, type Home } from '../../core/home.ts'
import { findOnPath, firstWorking, versionOutput } from '../../core/which.ts'
import { envoyPaths, renderEnvoyConf } from './render.ts'
import type { Plan } from '../../config/plan.ts'
import { checkInTempHome, type ConfCheck } from '../conf-check.ts'

export type EnvoySource = 'local' | 'shared' | 'path'

export interface FoundEnvoy {
  path: string
  source: EnvoySource
  version: string
}

export const SHARED_ENVOY = path.join(packageRoot, '.local', 'bin', 'envoy')

export const ENVOY_INSTALL_HINT = [
  'Envoy ships no portable standalone build this tool could verify, so it installs none. Get one from:',
  '  - Debian/Ubuntu: the apt repository described at https://www.envoyproxy.io/docs/envoy/latest/start/install',
  '  - macOS: brew install envoy',
  '  - Docker: copy /usr/local/bin/envoy out of the envoyproxy/envoy image (e.g. envoyproxy/envoy:v1.31-latest)',
  '  - func-e (https://func-e.io): "func-e use <version>", then put its envoy on PATH',
  'then put it on PATH or link it to .local/bin/envoy.',
].join('\n')

// "envoy  version: <sha>/1.31.0/Clean/RELEASE/BoringSSL" -> "1.31.0"
export function parseEnvoyVersion(text: string): string | undefined {
  return /version:\s*\S*?\/(\d+\.\d+\.\d+)/.exec(text)?.[1]
}

// A binary counts only if `envoy --version` exits 0: present but unable to run is not usable.
export function envoyVersion(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  const output = versionOutput(bin, ['--version'], env)
  return output === undefined ? undefined : (parseEnvoyVersion(output) ?? 'unknown')
}

const onPath = (env: NodeJS.ProcessEnv) => findOnPath('envoy', env)

// The places `findEnvoy` looks, in order, for messages that say where nothing was found.
export function envoyCandidates(home: Home, env: NodeJS.ProcessEnv): { path: string; source: EnvoySource }[] {
  const found = onPath(env)
  return [
    { path: path.join(home.bin, 'envoy'), source: 'local' as const },
    { path: SHARED_ENVOY, source: 'shared' as const },
    ...(found ? [{ path: found, source: 'path' as const }] : []),
  ]
}

// Resolution order: this home's bin/, the repository's .local/bin/, then PATH.
export function findEnvoy(home: Home, env: NodeJS.ProcessEnv): FoundEnvoy | undefined {
  return firstWorking(envoyCandidates(home, env), (bin) => envoyVersion(bin, env))
}

export function requireEnvoy(home: Home, env: NodeJS.ProcessEnv): FoundEnvoy {
  const envoy = findEnvoy(home, env)
  if (envoy) return envoy
  const looked = [...new Set(envoyCandidates(home, env).map((c) => c.path))].concat(
    onPath(env) ? [] : ['envoy on PATH'],
  )
  throw new BackendManagerError(
    'NOT_FOUND',
    `envoy not found (looked at ${looked.join(', ')}); proxy.type envoy needs it.\n${ENVOY_INSTALL_HINT}`,
  )
}

// Stacks on one machine need distinct base ids (Envoy's shared memory and hot-restart socket
// names); derived from the state folder, so a stack always gets the same one and two never share.
export function baseIdFor(home: Home): number {
  return (createHash('sha256').update(path.resolve(home.root)).digest().readUInt32BE(0) % 100_000_000) + 1
}

// One worker thread: a laptop dev proxy is never CPU-bound, and it keeps round-robin exact.
export function envoyArgs(home: Home, conf = envoyPaths(home).conf): string[] {
  return [
    '-c',
    path.resolve(conf),
    '--base-id',
    String(baseIdFor(home)),
    '--concurrency',
    '1',
    '--log-path',
    envoyPaths(home).log,
  ]
}

// `envoy --mode validate` parses and checks the whole config without binding any port.
export function validateEnvoyConf(envoy: FoundEnvoy, conf: string, env: NodeJS.ProcessEnv): ConfCheck {
  const result = spawnSync(envoy.path, ['--mode', 'validate', '-c', path.resolve(conf)], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() || (result.error ? result.error.message : '')
  return { ok: result.status === 0, output }
}

// `envoy --mode validate` on the plan's config, rendered in a throwaway home.
export function validatePlanInTempHome(envoy: FoundEnvoy, plan: Plan, env: NodeJS.ProcessEnv): ConfCheck {
  return checkInTempHome(
    (home) => {
      for (const dir of [home.run, home.logs]) fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(envoyPaths(home).conf, renderEnvoyConf(plan, home))
      return envoyPaths(home).conf
    },
    (_home, conf) => validateEnvoyConf(envoy, conf, env),
  )
}
