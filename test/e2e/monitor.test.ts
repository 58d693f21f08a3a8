// `monitor` on a pipe (plain lines), then in a real terminal (tmux, a server of its own): every process shows,
// a pause made elsewhere shows, keys select and resume, requests through nginx show per upstream, and q leaves the
// terminal as it was.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { terminalShot } from '../terminal-shot.ts'
import {
  cliEntry,
  fixtureServer,
  freePorts,
  hasCommand,
  httpGet,
  repoRoot,
  startOk,
  testStateHome,
  useHome,
  waitFor,
} from '../helpers.ts'

test('monitor in tmux: rows, a pause, keys, upstream rates, q restores the terminal', async (t) => {
  if (!hasCommand('tmux')) return t.skip('tmux not installed (scripts/system-deps.sh installs it)')
  const home = useHome(t, 'bm-monitor-')
  const [api, proxyPort] = await freePorts(3).then((base) => [base, base + 2])
  const config = home.writeConfig({
    proxy: { type: 'nginx', host: '127.0.0.1', port: proxyPort },
    servers: [fixtureServer('api', 'http-server.mjs', api, { instances: 2 })],
  })
  await startOk(home, config)
  await home.statusUntilHealthy()

  // On a pipe: plain blocks, no escape codes; SIGTERM ends it with 0.
  const piped = home.spawnCli(['status', '--watch'])
  await waitFor(() => /^nginx \d+ running/m.test(piped.output().stdout), 60_000, 'a plain block on the pipe')
  process.kill(piped.child.pid!, 'SIGTERM')
  const ended = await piped.done
  assert.equal(ended.code, 0, ended.stderr)
  assert.match(ended.stdout, /^\d\d:\d\d:\d\d all healthy\nsupervisor \d+ running/m)
  assert.doesNotMatch(ended.stdout, /\x1b/)

  const socket = `bm-monitor-${process.pid}-${Date.now()}`
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => {
    try {
      tmux('kill-server')
    } catch {
      // Already gone with its last session.
    }
  })
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PS1: '$ ',
    XDG_STATE_HOME: testStateHome,
    BACKEND_MANAGER_HOME: home.root,
  }
  delete env.NO_COLOR
  execFileSync('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-x', '120', '-y', '30', 'sh'], {
    cwd: repoRoot,
    env,
  })
  const pane = () => tmux('capture-pane', '-p')
  const line = (id: string) =>
    pane()
      .split('\n')
      .find((l) => l.startsWith(`${id} `)) ?? ''
  tmux('send-keys', '-l', `${process.execPath} ${cliEntry} monitor; echo "monitor exited $?"`)
  tmux('send-keys', 'Enter')

  const ids = ['supervisor', 'api-0', 'api-1', 'nginx']
  await waitFor(() => ids.every((id) => line(id)), 60_000, `every process row in the pane:\n${pane()}`)
  assert.equal(tmux('display', '-p', '#{alternate_on}').trim(), '1', 'the monitor runs on the alternate screen')
  assert.match(line('api-1'), /\brunning\b/)

  // Traffic through nginx shows as a rate per instance (read from its JSON access log).
  for (let i = 0; i < 20; i++) assert.equal((await httpGet(`http://127.0.0.1:${proxyPort}/`)).status, 200)
  await waitFor(
    () => /UPSTREAM/.test(pane()) && /^api-\d +\d/m.test(pane().split('UPSTREAM')[1] ?? ''),
    30_000,
    'rates',
  )

  // A screenshot of the view (docs/monitor.png in the README with UPDATE_SCREENSHOTS=1), when Chromium can draw it.
  const shot = path.join(home.root, 'monitor.png')
  const why = terminalShot(tmux('capture-pane', '-p', '-e'), 120, 30, shot)
  if (why) t.diagnostic(`no screenshot: ${why}`)
  else {
    assert.equal(fs.readFileSync(shot).subarray(1, 4).toString(), 'PNG')
    if (process.env.UPDATE_SCREENSHOTS === '1') fs.copyFileSync(shot, path.join(repoRoot, 'docs', 'monitor.png'))
  }

  // A change made by another command shows on the next refresh.
  const paused = await home.cli(['pause', 'api-1'])
  assert.equal(paused.code, 0, paused.stdout + paused.stderr)
  await waitFor(() => /\bpaused\b/.test(line('api-1')), 30_000, `api-1 paused in the pane:\n${pane()}`)

  // Select api-1 with j (the rows are in status order) and resume it with p.
  const order = pane()
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((id) => ids.includes(id))
  for (let i = 0; i < order.indexOf('api-1'); i++) tmux('send-keys', 'j')
  tmux('send-keys', 'p')
  await waitFor(() => /\brunning\b/.test(line('api-1')), 30_000, `api-1 resumed by p:\n${pane()}`)
  assert.match(pane(), /resumed api-1/)

  tmux('send-keys', 'q')
  await waitFor(() => /monitor exited 0/.test(pane()), 30_000, `the shell again after q:\n${pane()}`)
  assert.equal(tmux('display', '-p', '#{alternate_on}').trim(), '0', 'no alternate screen left')
  assert.equal(tmux('display', '-p', '#{cursor_flag}').trim(), '1', 'the cursor shows again')
  assert.doesNotMatch(pane(), /RECENT EVENTS/, 'the view is gone with the alternate screen')
})
