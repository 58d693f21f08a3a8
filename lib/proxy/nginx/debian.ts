// nginx from the Debian/Ubuntu archive without root: `apt-get download` fetches the .deb files into a
// temp folder and `dpkg-deb -x` unpacks them into the state folder; nothing is installed system-wide.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BackendManagerError } from '../../core/errors.ts'
import { findOnPath } from '../../core/which.ts'

// Bookworm and later ship the binary in `nginx`; older releases made `nginx` a metapackage over
// nginx-core/-light/-full, so those are tried in turn until one holds usr/sbin/nginx.
export const BINARY_PACKAGES = ['nginx', 'nginx-core', 'nginx-light', 'nginx-full']
// Holds /etc/nginx/mime.types; the binary package does not.
export const COMMON_PACKAGE = 'nginx-common'

const onPath = (env: NodeJS.ProcessEnv, name: string) => findOnPath(name, env) !== undefined

export function hasApt(env: NodeJS.ProcessEnv): boolean {
  return process.platform === 'linux' && onPath(env, 'apt-get') && onPath(env, 'dpkg-deb')
}

// What apt-get says when the package lists are empty (a fresh container) rather than the package missing.
const EMPTY_LISTS = /Unable to locate package|has no installation candidate|Can't select candidate/i

export interface DebianNginx {
  binary: string
  mimeTypes?: string
  packages: string[]
}

export async function installDebianPackage(
  pkgDir: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<DebianNginx> {
  // zx is loaded only here, so finding an already installed nginx never pays for it.
  const { $ } = await import('zx')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-manager-deb-'))
  // A fixed locale keeps apt's messages matchable; noninteractive keeps it from ever prompting.
  const sh = $({
    cwd: tmp,
    env: { ...env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
    quiet: true,
    nothrow: true,
  })
  let updated = false
  const download = async (pkg: string): Promise<string | undefined> => {
    let result = await sh`apt-get download -q ${pkg}`
    if (result.exitCode !== 0 && EMPTY_LISTS.test(result.stderr) && !updated && process.getuid?.() === 0) {
      log('apt package lists look empty; running apt-get update once')
      updated = true
      await sh`apt-get update -qq`
      result = await sh`apt-get download -q ${pkg}`
    }
    if (result.exitCode !== 0) {
      log(
        `apt-get download ${pkg} failed: ${
          result.stderr
            .trim()
            .split('\n')
            .filter((l) => l.startsWith('E:'))
            .join(' ') || `exit ${result.exitCode}`
        }`,
      )
      return undefined
    }
    return fs.readdirSync(tmp).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'))
  }
  const extract = async (deb: string) => {
    const result = await sh`dpkg-deb -x ${path.join(tmp, deb)} ${pkgDir}`
    if (result.exitCode !== 0)
      throw new BackendManagerError('NGINX', `dpkg-deb -x ${deb} failed: ${result.stderr.trim()}`)
  }
  try {
    // A previous version's files must not mix with this one's.
    fs.rmSync(pkgDir, { recursive: true, force: true })
    fs.mkdirSync(pkgDir, { recursive: true })
    const binary = path.join(pkgDir, 'usr', 'sbin', 'nginx')
    const packages: string[] = []
    for (const pkg of BINARY_PACKAGES) {
      log(`apt-get download ${pkg}`)
      const deb = await download(pkg)
      if (!deb) continue
      await extract(deb)
      packages.push(deb)
      if (fs.existsSync(binary)) break
    }
    if (!fs.existsSync(binary))
      throw new BackendManagerError(
        'NGINX',
        `no Debian package among ${BINARY_PACKAGES.join(', ')} could be downloaded with usr/sbin/nginx in it`,
      )
    const common = await download(COMMON_PACKAGE)
    if (common) {
      await extract(common)
      packages.push(common)
    }
    const mimeTypes = path.join(pkgDir, 'etc', 'nginx', 'mime.types')
    return { binary, mimeTypes: fs.existsSync(mimeTypes) ? mimeTypes : undefined, packages }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}
