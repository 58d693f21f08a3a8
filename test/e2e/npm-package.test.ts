// The npm package as a user gets it: packed, installed globally into a temporary prefix, and run from an
// unrelated folder with an empty per-user cache (nginx is installed there on first use). Slow: kept apart.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import test from 'node:test'
import {
  fixture,
  freePorts,
  httpGet,
  listening,
  pidAlive,
  repoRoot,
  toYaml,
  type CliResult,
  type RecordedState,
} from '../helpers.ts'

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 300_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    )
  })
}

const SKIP_TOP = new Set(['node_modules', '.local', 'dist', '.git'])

test(
  'npm pack + npm install -g: the installed CLI starts a stack behind nginx from any folder',
  { timeout: 900_000 },
  async (t) => {
    const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bm-npm-')))
    const [src, out, prefix, cache, state, project] = ['src', 'out', 'prefix', 'cache', 'state', 'project'].map((d) =>
      path.join(tmp, d),
    )
    for (const d of [out, prefix, cache, state, project]) fs.mkdirSync(d)
    const home = path.join(project, '.local')
    const seen = new Map<number, string>()
    const remember = () => {
      try {
        const s = JSON.parse(fs.readFileSync(path.join(home, 'run', 'state.json'), 'utf8')) as RecordedState
        if (s.supervisor.pid > 1) seen.set(s.supervisor.pid, s.supervisor.startTime)
        for (const p of s.processes) if (p.pid > 1) seen.set(p.pid, p.startTime)
      } catch {
        // Not started yet, or stopped.
      }
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NO_COLOR: '1',
      XDG_CACHE_HOME: cache,
      XDG_STATE_HOME: state,
      npm_config_loglevel: 'error',
    }
    delete env.BACKEND_MANAGER_HOME
    const bm = path.join(prefix, 'bin', 'backend-manager')
    t.after(async () => {
      remember()
      if (fs.existsSync(path.join(home, 'run', 'state.json'))) await run(bm, ['stop'], project, env, 30_000)
      for (const [pid, startTime] of seen) if (pidAlive(pid, startTime)) process.kill(pid, 'SIGKILL')
      fs.rmSync(tmp, { recursive: true, force: true })
    })

    // Packed from a copy, so the build that prepack makes never replaces dist/ under tests running from this checkout.
    fs.cpSync(repoRoot, src, {
      recursive: true,
      filter: (from) =>
        !(path.dirname(from) === repoRoot && SKIP_TOP.has(path.basename(from))) &&
        !from.includes(`${path.sep}bench${path.sep}node_modules`),
    })
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(src, 'node_modules'))
    const packed = await run('npm', ['pack', '--json', '--pack-destination', out], src, env)
    assert.equal(packed.code, 0, packed.stderr)
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
      filename: string
      version: string
      files: { path: string }[]
    }[]
    const files = info[0].files.map((f) => f.path)
    assert.ok(files.includes('dist/scripts/backend-manager.js'), 'the compiled CLI is in the package')
    assert.ok(
      files.includes('dist/scripts/commands/start.js') &&
        files.includes('bin/backend-manager') &&
        files.includes('bin/backend-manager.js') &&
        files.includes('templates/nginx.conf'),
    )
    assert.deepEqual(
      files.filter((f) => /^(test|bench|lib|scripts)\//.test(f)),
      [],
      'no tests, bench or TypeScript sources',
    )

    const installed = await run(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(out, info[0].filename),
      ],
      tmp,
      env,
    )
    assert.equal(installed.code, 0, installed.stderr)

    const version = await run(bm, ['--version'], project, env)
    assert.equal(version.code, 0, version.stderr)
    assert.equal(version.stdout, `${info[0].version}\n`)

    const [front, port] = [await freePorts(1), await freePorts(1)]
    fs.copyFileSync(fixture('http-server.mjs'), path.join(project, 'server.mjs'))
    fs.writeFileSync(
      path.join(project, 'stack.yaml'),
      toYaml({
        proxy: { type: 'nginx', port: front },
        servers: [{ name: 'web', command: 'node server.mjs', cwd: project, port, health: '/health' }],
      }),
    )
    const timer = setInterval(remember, 200)
    const started = await run(bm, ['start', 'stack.yaml'], project, env)
    clearInterval(timer)
    remember()
    assert.equal(started.code, 0, started.stdout + started.stderr)
    assert.match(
      started.stderr,
      new RegExp(`installing it into ${path.join(cache, 'backend-manager', 'nginx')}`),
      'a progress line says nginx is being installed',
    )
    assert.doesNotMatch(started.stdout + started.stderr, /\bmake\b/)
    assert.ok(
      fs.existsSync(path.join(cache, 'backend-manager', 'nginx', 'bin', 'nginx')),
      'nginx is in the per-user cache',
    )

    const answer = await httpGet(`http://127.0.0.1:${front}/anything`)
    assert.equal(answer.status, 200)
    assert.equal(answer.json().port, port, 'answered by the server through nginx')
    const status = await run(bm, ['status'], path.join(project), env)
    assert.equal(status.code, 0, status.stdout + status.stderr)
    assert.match(status.stdout, /nginx\s+\d+\s+\d+\s+running\s+ok/)
    const stopped = await run(bm, ['stop'], project, env)
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.match(stopped.stdout, /all ports released/)
    assert.equal(await listening(front), false)
  },
)
