// Finding and installing nginx: the nginx-binaries index on recorded data, and real installs into
// empty temporary homes (Debian package, nginx on PATH, and the download route over local HTTP).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { packageRoot, resolveHome, type Home } from '../../lib/core/home.ts'
import {
  compareVersions,
  indexTargets,
  parseBinaryIndex,
  parseChecksum,
  pickBuild,
  sha1Of,
  verifySha1,
} from '../../lib/proxy/nginx/binaries.ts'
import { hasApt } from '../../lib/proxy/nginx/debian.ts'
import {
  findNginx,
  installNginx,
  nginxVersion,
  parseNginxVersion,
  SHARED_NGINX,
  testNginxConf,
} from '../../lib/proxy/nginx/install.ts'

const fixtures = path.join(packageRoot, 'test', 'fixtures')
const recordedIndex = () =>
  JSON.parse(fs.readFileSync(path.join(fixtures, 'nginx-binaries-index.json'), 'utf8')) as {
    contents: Record<string, unknown>[]
  }
const fakeNginx = fs.readFileSync(path.join(fixtures, 'fake-nginx'))
const fakeNginxSha1 = fs.readFileSync(path.join(fixtures, 'fake-nginx.sha1'), 'utf8').split(' ')[0]

function tempHome(t: { after: (fn: () => void) => void }): Home {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-nginx-install-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  return resolveHome({}, root, root)
}

const lines: string[] = []
const log = (line: string) => lines.push(line)

test('the recorded index parses into entries with a SHA-1 each', () => {
  const entries = parseBinaryIndex(recordedIndex())
  assert.equal(entries.length, recordedIndex().contents.length)
  assert.deepEqual(entries[2], {
    name: 'nginx',
    version: '1.18.0',
    variant: '',
    os: 'linux',
    arch: 'x86_64',
    filename: 'nginx-1.18.0-x86_64-linux',
    size: 5021272,
    sha1: '7933266377664a67e19d7f7b342f2b0a3193a645',
  })
  for (const e of entries) assert.match(e.sha1, /^[0-9a-f]{40}$/)
})

test('checksums in every format the index has used', () => {
  const sha = '3ECE0A37049ECA31F604C68A42A31F77A9A04B16'
  const table: [Record<string, unknown>, string | undefined][] = [
    [{ checksum: `sha1:${sha}` }, sha.toLowerCase()],
    [{ checksum: `sha1-${sha}` }, sha.toLowerCase()],
    [{ integrity: `sha1-${sha}` }, sha.toLowerCase()],
    [{ checksum: `sha256:${sha}` }, undefined],
    [{ checksum: 'sha1:short' }, undefined],
    [{}, undefined],
  ]
  for (const [raw, expected] of table) assert.equal(parseChecksum(raw), expected, JSON.stringify(raw))
})

test('entries that cannot be used safely are dropped; a non-index is refused', () => {
  const good = recordedIndex().contents[2]
  const entries = parseBinaryIndex({
    contents: [
      good,
      { ...good, filename: '../../bin/sh' },
      { ...good, filename: 'a/b' },
      { ...good, checksum: undefined, integrity: undefined },
      { ...good, version: '1.2.3; rm' },
      null,
      'x',
    ],
  })
  assert.deepEqual(
    entries.map((e) => e.filename),
    ['nginx-1.18.0-x86_64-linux'],
  )
  for (const bad of [null, {}, { contents: 'x' }, []]) assert.throws(() => parseBinaryIndex(bad), BackendManagerError)
})

test('best build per OS/arch: preferred arch, then newest stable, else newest', () => {
  const entries = parseBinaryIndex(recordedIndex())
  const table: [string, string, string | undefined][] = [
    ['linux', 'x64', 'nginx-1.18.0-x86_64-linux'],
    ['linux', 'arm64', 'nginx-1.18.0-aarch64-linux'],
    ['linux', 'ppc64', 'nginx-1.19.8-ppc64le-linux'],
    ['linux', 'arm', 'nginx-1.19.8-armv7l-linux'],
    ['darwin', 'x64', 'nginx-1.18.0-x86_64-darwin'],
    ['darwin', 'arm64', 'nginx-1.18.0-x86_64-darwin'],
    ['win32', 'x64', 'nginx-1.18.0-x86_64-win32.exe'],
    ['linux', 's390x', undefined],
    ['freebsd', 'x64', undefined],
  ]
  for (const [platform, arch, expected] of table)
    assert.equal(pickBuild(entries, platform, arch)?.filename, expected, `${platform}/${arch}`)
  const arm64Mac = { ...entries[1], version: '1.25.5', arch: 'arm64', filename: 'nginx-1.25.5-arm64-darwin' }
  assert.equal(
    pickBuild([...entries, arm64Mac], 'darwin', 'arm64')?.filename,
    'nginx-1.25.5-arm64-darwin',
    'native arch beats Rosetta',
  )
  assert.deepEqual(indexTargets('darwin', 'arm64').archs, ['arm64', 'aarch64', 'x86_64'])
})

test('version parsing and ordering', () => {
  const versions: [string, string | undefined][] = [
    ['nginx version: nginx/1.22.1\n', '1.22.1'],
    ['nginx version: nginx/1.18.0 (Ubuntu)', '1.18.0'],
    ['nginx version: openresty/1.21.4.1', '1.21.4.1'],
    ['command not found', undefined],
  ]
  for (const [text, expected] of versions) assert.equal(parseNginxVersion(text), expected)
  const order: [string, string, number][] = [
    ['1.28.0', '1.9.15', 1],
    ['1.19.5', '1.19.5', 0],
    ['1.2', '1.2.1', -1],
  ]
  for (const [a, b, sign] of order) assert.equal(Math.sign(compareVersions(a, b)), sign, `${a} vs ${b}`)
})

test('SHA-1 verification: recorded file passes, one changed byte fails', () => {
  assert.equal(sha1Of(new Uint8Array()), 'da39a3ee5e6b4b0d3255bfef95601890afd80709')
  assert.equal(sha1Of(fakeNginx), fakeNginxSha1)
  verifySha1(fakeNginx, fakeNginxSha1.toUpperCase(), 'fake-nginx')
  const tampered = Buffer.from(fakeNginx)
  tampered[tampered.length - 2] ^= 1
  assert.throws(
    () => verifySha1(tampered, fakeNginxSha1, 'fake-nginx'),
    (e: unknown) => e instanceof BackendManagerError && e.code === 'NGINX' && /SHA-1 mismatch/.test(e.message),
  )
})

// A local stand-in for the binaries site: an index listing one build for this machine, and the file.
async function serveBinaries(t: { after: (fn: () => void) => void }, checksum: string): Promise<string> {
  const target = indexTargets(process.platform, process.arch)
  const filename = `nginx-1.99.0-${target.archs[0]}-${target.os}`
  const index = {
    formatVersion: 2,
    contents: [
      {
        name: 'nginx',
        version: '1.99.0',
        variant: '',
        arch: target.archs[0],
        os: target.os,
        filename,
        size: fakeNginx.length,
        checksum: `sha1:${checksum}`,
      },
    ],
  }
  const server = http.createServer((req, res) => {
    if (req.url === '/index.json') res.end(JSON.stringify(index))
    else if (req.url === `/${filename}`) res.end(fakeNginx)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

test('download route: fetches the index and the build, checks SHA-1, installs', async (t) => {
  const home = tempHome(t)
  const baseUrl = await serveBinaries(t, fakeNginxSha1)
  const installed = await installNginx(home, process.env, log, {
    system: false,
    debian: false,
    standalone: { baseUrl },
  })
  assert.equal(installed.source, 'standalone')
  assert.equal(installed.version, '1.99.0')
  assert.equal(installed.path, path.join(home.bin, 'nginx'))
  assert.match(fs.readFileSync(installed.mimeTypes, 'utf8'), /application\/json json;/)
})

test('download route: a SHA-1 mismatch installs nothing', async (t) => {
  const home = tempHome(t)
  const baseUrl = await serveBinaries(t, '0'.repeat(40))
  await assert.rejects(
    installNginx(home, process.env, log, { system: false, debian: false, standalone: { baseUrl } }),
    /SHA-1 mismatch/,
  )
  assert.equal(fs.existsSync(path.join(home.bin, 'nginx')), false)
})

test('Debian route: apt-get download + dpkg-deb -x into an empty home gives a working nginx', async (t) => {
  if (!hasApt(process.env)) return t.skip('apt-get/dpkg-deb not available: not Debian or Ubuntu')
  const home = tempHome(t)
  const installed = await installNginx(home, process.env, log, { system: false, standalone: false })
  assert.equal(installed.source, 'debian')
  assert.equal(nginxVersion(path.join(home.bin, 'nginx'), process.env), installed.version)
  assert.ok(fs.realpathSync(installed.path).startsWith(fs.realpathSync(path.join(home.root, 'nginx-pkg'))))
  assert.match(fs.readFileSync(installed.mimeTypes, 'utf8'), /text\/html\s+html/)
  assert.deepEqual(findNginx(home, process.env, { system: false })?.source, 'local')
  const again = await installNginx(home, process.env, log, { system: false, standalone: false })
  assert.equal(again.source, 'kept')
})

test('PATH route: an nginx on PATH is linked into the home', async (t) => {
  const real = findNginx(tempHome(t), process.env)
  if (!real) return t.skip('no nginx anywhere to put on PATH (make install-nginx)')
  const home = tempHome(t)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-path-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.symlinkSync(real.path, path.join(dir, 'nginx'))
  const env = { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH}` }
  const installed = await installNginx(home, env, log, { debian: false, standalone: false })
  assert.equal(installed.source, 'path')
  assert.equal(fs.readlinkSync(installed.path), path.join(dir, 'nginx'))
  assert.equal(installed.version, real.version)
})

test('findNginx: an empty home falls back to the shared install, else nothing', (t) => {
  const found = findNginx(tempHome(t), { PATH: '' }, { system: false })
  if (nginxVersion(SHARED_NGINX, process.env))
    assert.deepEqual(found && { path: found.path, source: found.source }, { path: SHARED_NGINX, source: 'shared' })
  else assert.equal(found, undefined)
})

test("testNginxConf shows nginx's own message and leaves no pid file", (t) => {
  const nginx = findNginx(tempHome(t), process.env)
  if (!nginx) return t.skip('no nginx installed (make install-nginx)')
  const home = tempHome(t)
  fs.mkdirSync(home.run, { recursive: true })
  fs.mkdirSync(home.logs, { recursive: true })
  fs.writeFileSync(home.nginxConf, `pid ${home.nginxPid};\nevents {}\nhttp { not_a_directive on; }\n`)
  const result = testNginxConf(nginx, home, home.nginxConf, process.env)
  assert.equal(result.ok, false)
  assert.match(result.output, /unknown directive "not_a_directive"/)
  fs.writeFileSync(
    home.nginxConf,
    `pid ${home.nginxPid};\nerror_log ${home.logs}/e.log;\nevents {}\n` +
      `http { access_log off; client_body_temp_path ${home.run}/cb;` +
      ` proxy_temp_path ${home.run}/p; fastcgi_temp_path ${home.run}/f;` +
      ` uwsgi_temp_path ${home.run}/u; scgi_temp_path ${home.run}/s; }\n`,
  )
  const ok = testNginxConf(nginx, home, home.nginxConf, process.env)
  assert.ok(ok.ok, ok.output)
  assert.equal(fs.existsSync(home.nginxPid), false)
})
