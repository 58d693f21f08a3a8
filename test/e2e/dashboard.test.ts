// The dashboard end to end in a real headless Chromium: a real supervisor, nginx and two servers; the page loads
// with its token and shows every process, is refused without it, a click on restart gives that instance a new pid
// (in the state file and on the page), its first log line appears live, + adds an instance.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Load } from '../load.ts'
import { fixtureServer, freePorts, hasCommand, httpGet, httpRequest, startOk, useHome, waitFor } from '../helpers.ts'

const chromium = ['chromium', 'chromium-browser', 'google-chrome']
  .filter(hasCommand)
  .map((name) => (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, name)))
  .flat()
  .find((file) => fs.existsSync(file))
const skip = chromium ? false : 'no chromium on PATH (scripts/system-deps.sh installs it as root with apt)'
const home = useHome({ after }, 'bm-dashboard-')
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-chromium-'))
let url = ''
let proxyUrl = ''
let supervisor = 0
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let browser: any

const rssKb = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])

before(async () => {
  if (skip) return
  const base = await freePorts(5)
  const [api, solo, proxyPort] = [base, base + 2, base + 4]
  proxyUrl = `http://127.0.0.1:${proxyPort}/`
  const servers = [
    fixtureServer('api', 'http-server.mjs', api, { instances: 2 }),
    fixtureServer('solo', 'http-server.mjs', solo, { modules: ['solo'] }),
  ]
  await startOk(home, home.writeConfig({ proxy: { type: 'nginx', host: '127.0.0.1', port: proxyPort }, servers }))
  supervisor = home.state()!.supervisor.pid
  const before = rssKb(supervisor)
  const r = await home.cli(['dashboard'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  url = r.stdout.trim()
  const again = await home.cli(['dashboard'])
  assert.equal(again.stdout.trim(), url, 'a second "dashboard" answers the same URL')
  console.log(`# supervisor RSS: ${before} kB before the dashboard, ${rssKb(supervisor)} kB after it started`)
  const { launch } = await import('puppeteer-core')
  browser = await launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-gpu', '--no-first-run'],
  })
})

after(async () => {
  await browser?.close()
  fs.rmSync(profile, { recursive: true, force: true })
})

test(
  'dashboard prints a URL on 127.0.0.1 with a token; without it, or with a wrong one, the answer is 401',
  { skip },
  async () => {
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/([A-Za-z0-9_-]{20,})\/$/.exec(url)
    assert.ok(m, `unexpected URL ${url}`)
    const root = `http://127.0.0.1:${m[1]}`
    assert.equal((await httpGet(url)).status, 200)
    for (const bad of ['/', '/app.js', '/events', `/${m[2].slice(0, -1)}x/`, `/${m[2]}x/`, `/x/${m[2]}/`]) {
      assert.equal((await httpGet(root + bad)).status, 401, `GET ${bad} must be refused`)
    }
    const before = home.record('api-0').pid
    const post = await httpRequest('POST', `${root}/x${m[2]}/api/restart`, '{"targets":["api-0"]}')
    assert.equal(post.status, 401)
    assert.equal(home.record('api-0').pid, before, 'a refused request changes nothing')
  },
)

test(
  'the page shows every process; restart changes the pid, the new log line appears live; + scales; rates show',
  { skip },
  async () => {
    const page = await browser.newPage()
    const started = performance.now()
    await page.goto(url)
    await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 })
    console.log(`# page load to first status rendered: ${Math.round(performance.now() - started)} ms`)
    const ids = () => page.$$eval('#status tbody tr', (rows: HTMLElement[]) => rows.map((r) => r.dataset.id))
    const shown = await ids()
    const recorded = home.state()!.processes.map((p) => p.id)
    for (const id of [...recorded, 'supervisor']) assert.ok(shown.includes(id), `${id} is not on the page: ${shown}`)
    const pidOnPage = () => page.$eval('tr[data-id="api-1"] td.pid', (td: HTMLElement) => td.textContent)
    const old = home.record('api-1').pid
    assert.equal(await pidOnPage(), String(old))

    await page.click('tr[data-id="api-1"] button[data-action="restart"]')
    const fresh = await waitFor(
      () => {
        const pid = home.record('api-1').pid
        return pid !== old && pid
      },
      60_000,
      'api-1 to get a new pid',
    )
    await waitFor(async () => (await pidOnPage()) === String(fresh), 30_000, 'the page to show the new pid')
    const logLine = `api-1 listening on 127.0.0.1`
    await waitFor(
      async () => (await page.$eval('#log', (e: HTMLElement) => e.textContent ?? '')).includes(`(pid ${fresh})`),
      30_000,
      `the line "${logLine}... (pid ${fresh})" to appear in the page's log`,
    )
    // The filter per server: only api's lines stay visible.
    const visibleOwners = () =>
      page.$$eval('#log div:not([hidden])', (ds: HTMLElement[]) => [...new Set(ds.map((d) => d.dataset.server))])
    assert.ok((await visibleOwners()).includes('solo'))
    await page.select('#filter', 'api')
    assert.deepEqual(await visibleOwners(), ['api'])
    await page.select('#filter', '')

    await page.click('tr[data-id="solo-0"] button[data-action="scale"]')
    await waitFor(() => home.state()!.processes.some((p) => p.id === 'solo-1'), 60_000, 'solo to be scaled to 2')
    await waitFor(async () => (await ids()).includes('solo-1'), 30_000, 'the page to show solo-1')

    // Requests through nginx show up as a rate on the rows of the instances that answered them.
    const load = new Load()
    load.start(proxyUrl)
    try {
      await waitFor(
        async () => (await page.$eval('tr[data-id="api-0"] td.rate', (td: HTMLElement) => td.textContent)) !== '',
        30_000,
        'a request rate for api-0 on the page',
      )
    } finally {
      await load.stop()
    }
    console.log(`# supervisor RSS with the page open for a while: ${rssKb(supervisor)} kB`)
    const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-dashboard-shot-'))
    const file = path.join(shots, 'dashboard.png')
    await page.setViewport({ width: 1100, height: 760 })
    await page.screenshot({ path: file })
    assert.ok(fs.statSync(file).size > 1000)
    if (process.env.BM_SCREENSHOT_DIR) fs.copyFileSync(file, path.join(process.env.BM_SCREENSHOT_DIR, 'dashboard.png'))
    fs.rmSync(shots, { recursive: true, force: true })
  },
)
