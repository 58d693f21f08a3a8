// Which nginx binary the stack uses, and how one gets into <home>/bin without sudo.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BackendManagerError } from '../../core/errors.ts'
import { homeAt, isCheckout, packageRoot, type Home } from '../../core/home.ts'
import { acquireLock } from '../../os/lock.ts'
import { sleep } from '../../core/sleep.ts'
import { findOnPath, firstWorking, versionOutput } from '../../core/which.ts'
import { MINIMAL_MIME_TYPES, nginxArgs, prepareNginxDirs, renderNginxConf } from './render.ts'
import type { Plan } from '../../config/plan.ts'
import type { DownloadOptions } from './binaries.ts'
import { checkInTempHome, type ConfCheck } from '../conf-check.ts'

export type NginxSource = 'local' | 'shared' | 'cache' | 'path' | 'system'

export interface FoundNginx {
  path: string
  source: NginxSource
  version: string
}

export const SYSTEM_NGINX = '/usr/sbin/nginx'
// The repository's own install, so temporary homes (tests, parallel stacks) reuse one download.
export const SHARED_NGINX = path.join(packageRoot, '.local', 'bin', 'nginx')

// Per-user cache: $XDG_CACHE_HOME/backend-manager, else ~/.cache/backend-manager.
export function userCacheDir(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)
      ? env.XDG_CACHE_HOME
      : path.join(env.HOME || os.homedir(), '.cache')
  return path.join(base, 'backend-manager')
}

// Where nginx is installed on first use, shared by every stack of the user (bin/nginx, conf/mime.types).
export const nginxCacheHome = (env: NodeJS.ProcessEnv): Home => homeAt(path.join(userCacheDir(env), 'nginx'))

// How to install nginx by hand; Make targets exist only in a repository checkout.
export const installAdvice = () =>
  isCheckout ? 'run "backend-manager install-nginx" (or "make install-nginx")' : 'run "backend-manager install-nginx"'

export function parseNginxVersion(text: string): string | undefined {
  return /nginx version: [^/\s]+\/(\d+(?:\.\d+)*)/.exec(text)?.[1]
}

// A binary counts only if `nginx -v` exits 0: present but missing shared libraries is not usable.
export function nginxVersion(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  const output = versionOutput(bin, ['-v'], env)
  return output === undefined ? undefined : (parseNginxVersion(output) ?? 'unknown')
}

export function whichNginx(env: NodeJS.ProcessEnv): string | undefined {
  return findOnPath('nginx', env)
}

export interface FindOptions {
  // false skips nginx on PATH and in /usr/sbin (tests use it to exercise the download routes).
  system?: boolean
}

const working = new Map<string, FoundNginx>()

// Resolution order: this home's install, the repository's shared one, the per-user cache, PATH, then /usr/sbin.
export function findNginx(home: Home, env: NodeJS.ProcessEnv, opts: FindOptions = {}): FoundNginx | undefined {
  const candidates: { path: string; source: NginxSource }[] = [
    { path: path.join(home.bin, 'nginx'), source: 'local' },
    { path: SHARED_NGINX, source: 'shared' },
    { path: path.join(nginxCacheHome(env).bin, 'nginx'), source: 'cache' },
  ]
  if (opts.system !== false) {
    const onPath = whichNginx(env)
    if (onPath) candidates.push({ path: onPath, source: 'path' })
    candidates.push({ path: SYSTEM_NGINX, source: 'system' })
  }
  // A binary that ran once in this process is not asked again (start checks before it starts the proxy).
  const key = candidates.map((c) => c.path).join('\0')
  const known = working.get(key)
  if (known) return known
  const found = firstWorking(candidates, (bin) => nginxVersion(bin, env))
  if (found) working.set(key, found)
  return found
}

// Our installs keep mime.types in <root>/conf beside <root>/bin (the layout of nginx's own prefix
// installs, e.g. /usr/local/nginx/{sbin,conf}); distribution packages keep it in /etc/nginx.
export function mimeTypesFor(nginxPath: string): string | undefined {
  const candidates = [
    path.join(path.dirname(nginxPath), '..', 'conf', 'mime.types'),
    '/etc/nginx/mime.types',
    '/usr/local/etc/nginx/mime.types',
    '/opt/homebrew/etc/nginx/mime.types',
  ]
  return candidates.map((p) => path.resolve(p)).find((p) => fs.existsSync(p))
}

export type InstallSource = 'kept' | 'path' | 'system' | 'debian' | 'standalone'

export interface InstalledNginx {
  path: string
  version: string
  source: InstallSource
  mimeTypes: string
}

export interface InstallOptions extends FindOptions {
  debian?: boolean
  // false skips the download; an object points it elsewhere (tests serve a local index).
  standalone?: boolean | DownloadOptions
}

// Replace `link` with a symlink to `target` in one rename, so a reader never sees it missing.
function symlinkAtomic(target: string, link: string): void {
  fs.mkdirSync(path.dirname(link), { recursive: true })
  const temp = `${link}.${process.pid}.tmp`
  fs.rmSync(temp, { force: true })
  fs.symlinkSync(target, temp)
  fs.renameSync(temp, link)
}

function writeMimeTypes(home: Home, source: string | undefined): string {
  const dest = path.join(home.root, 'conf', 'mime.types')
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  if (source && path.resolve(source) !== dest) fs.copyFileSync(source, dest)
  else if (!fs.existsSync(dest)) fs.writeFileSync(dest, MINIMAL_MIME_TYPES)
  return dest
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

// Always ends with a working <home>/bin/nginx and <home>/conf/mime.types, or throws saying why not.
export async function installNginx(
  home: Home,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  opts: InstallOptions = {},
): Promise<InstalledNginx> {
  const target = path.join(home.bin, 'nginx')
  const done = (source: InstallSource, mime: string | undefined): InstalledNginx => {
    const version = nginxVersion(target, env)
    if (!version)
      throw new BackendManagerError('NGINX', `${target} was installed (${source}) but "nginx -v" fails on it`)
    return { path: target, version, source, mimeTypes: writeMimeTypes(home, mime) }
  }
  if (nginxVersion(target, env)) return done('kept', mimeTypesFor(target))
  const failures: string[] = []
  if (opts.system !== false) {
    const found: [InstallSource, string | undefined][] = [
      ['path', whichNginx(env)],
      ['system', SYSTEM_NGINX],
    ]
    for (const [source, candidate] of found) {
      if (!candidate || !nginxVersion(candidate, env)) continue
      log(`linking ${target} -> ${candidate}`)
      symlinkAtomic(candidate, target)
      return done(source, mimeTypesFor(candidate))
    }
    failures.push('no working nginx on PATH or in /usr/sbin')
  }
  const { hasApt, installDebianPackage } = await import('./debian.ts')
  if (opts.debian !== false && hasApt(env)) {
    try {
      const pkgDir = path.join(home.root, 'nginx-pkg')
      const deb = await installDebianPackage(pkgDir, env, log)
      // Relative, so the state folder can be moved or copied as a whole.
      symlinkAtomic(path.relative(home.bin, deb.binary), target)
      return done('debian', deb.mimeTypes)
    } catch (error) {
      failures.push(`Debian package: ${messageOf(error)}`)
      fs.rmSync(target, { force: true })
    }
  } else if (opts.debian !== false) failures.push('no apt-get/dpkg-deb (not Debian or Ubuntu)')
  if (opts.standalone !== false) {
    try {
      const { downloadStandalone } = await import('./binaries.ts')
      await downloadStandalone(target, log, typeof opts.standalone === 'object' ? opts.standalone : {})
      return done('standalone', undefined)
    } catch (error) {
      failures.push(`standalone build: ${messageOf(error)}`)
      fs.rmSync(target, { force: true })
    }
  }
  throw new BackendManagerError(
    'NGINX',
    `could not install nginx into ${target}:\n  - ${failures.join('\n  - ')}\n` +
      'Install nginx with your package manager (e.g. "sudo apt install nginx" or "brew install nginx")' +
      ' and run "backend-manager install-nginx" again.',
  )
}

const INSTALL_WAIT_MS = 10 * 60_000

// nginx for a stack about to start: the one findNginx picks, else installed now into the per-user cache
// (once; a second start at the same time waits for the first install instead of racing it).
export async function ensureNginx(
  home: Home,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void = () => {},
): Promise<FoundNginx> {
  const found = findNginx(home, env)
  if (found) return found
  const cache = nginxCacheHome(env)
  const deadline = Date.now() + INSTALL_WAIT_MS
  let lock
  for (let told = false; !lock;) {
    try {
      lock = acquireLock(cache, 'install-nginx')
    } catch (error) {
      if ((error as BackendManagerError).code !== 'LOCKED' || Date.now() > deadline) throw error
      if (!told) log(`waiting for another backend-manager to finish installing nginx into ${cache.root}`)
      told = true
      await sleep(500)
    }
  }
  try {
    const again = findNginx(home, env)
    if (again) return again
    log(`nginx not found; installing it into ${cache.root} (first use only, shared by every stack, no sudo)...`)
    const installed = await installNginx(cache, env, (line) => log(`  ${line}`))
    log(`nginx ${installed.version} installed: ${installed.path}`)
  } finally {
    lock.release()
  }
  const after = findNginx(home, env)
  if (!after)
    throw new BackendManagerError(
      'NGINX',
      `nginx was installed into ${cache.root} but does not run; ${installAdvice()}`,
    )
  return after
}

// `nginx -t` with the same prefix and error log the stack uses, so a pass here means start will parse it.
export function testNginxConf(nginx: FoundNginx, home: Home, conf: string, env: NodeJS.ProcessEnv): ConfCheck {
  const args = ['-t', ...nginxArgs(home, { version: nginx.version, conf })]
  const hadPidFile = fs.existsSync(home.nginxPid)
  const result = spawnSync(nginx.path, args, {
    env,
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // `nginx -t` leaves an empty pid file behind, which would look like a proxy that died.
  if (!hadPidFile && fs.existsSync(home.nginxPid) && fs.statSync(home.nginxPid).size === 0)
    fs.rmSync(home.nginxPid, { force: true })
  const output = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim() || (result.error ? result.error.message : '')
  return { ok: result.status === 0, output }
}

// `nginx -t` on the plan's config, rendered in a throwaway home.
export function testPlanInTempHome(nginx: FoundNginx, plan: Plan, env: NodeJS.ProcessEnv): ConfCheck {
  return checkInTempHome(
    (home) => {
      prepareNginxDirs(home)
      fs.writeFileSync(home.nginxConf, renderNginxConf(plan, home, { mimeTypes: mimeTypesFor(nginx.path) }))
      return home.nginxConf
    },
    (home, conf) => testNginxConf(nginx, home, conf, env),
  )
}
