// Changing a running nginx without dropping a request: render the config (with drained instances marked down),
// check it with `nginx -t`, swap it in atomically, SIGHUP the recorded master, and return once only workers running
// the new config accept connections. A rolling restart is drain, reload, wait for in-flight, restart, undrain, reload.
import fs from 'node:fs'
import path from 'node:path'
import { BackendManagerError } from '../../core/errors.ts'
import type { Home } from '../../core/home.ts'
import { checkExisting, writeFileAtomic } from '../../core/safe-files.ts'
import { sleep } from '../../core/sleep.ts'
import type { Plan } from '../../config/plan.ts'
import { tailLines } from '../../logs/tail.ts'
import { commandArgs, isRecordedProcess, processTable, startedWith } from '../../os/platform.ts'
import { waitGone } from '../../os/process-groups.ts'
import type { GroupRecord } from '../../os/process-record.ts'
import type { ProcStat } from '../../os/procfs.ts'
import { signal } from '../../os/signal.ts'
import { findNginx, installAdvice, mimeTypesFor, testNginxConf } from './install.ts'
import { nginxPaths, prepareNginxDirs, renderNginxConf } from './render.ts'

export interface ReloadOptions {
  // Instance ids ("api-0") left without new requests: marked down in their upstream.
  drained?: string[]
  // The running nginx master as recorded (pid, process group, start time) and the run it belongs to.
  master: GroupRecord
  runId?: string
  env?: NodeJS.ProcessEnv
  // Also wait until the old workers have exited, i.e. every request they were serving has finished.
  waitInFlight?: boolean
  // How long the new workers may take to replace the old ones.
  timeoutMs?: number
}

export interface ReloadResult {
  // Whether the config file's text changed.
  changed: boolean
  // The workers serving the new config.
  workers: number[]
  // Old workers finishing their in-flight requests (gone already when waitInFlight was set).
  retiring: ProcStat[]
}

// worker_shutdown_timeout in templates/nginx.conf: no old worker outlives a reload by more than this.
export const WORKER_SHUTDOWN_MS = 10_000
const RELOAD_TIMEOUT_MS = 30_000
const POLL_MS = 20
// Without a process table: the master starts the new workers, waits 100 ms, then tells the old ones to stop.
const BLIND_WAIT_MS = 1000

const title = (p: ProcStat) => (commandArgs(p.pid) ?? []).join(' ')
const accepting = (p: ProcStat) => /^nginx: worker process$/.test(title(p))

// The master's workers that still accept connections (an old one retitles itself "is shutting down" when it stops).
function acceptingWorkers(master: GroupRecord, table: ProcStat[]): ProcStat[] {
  return table.filter((p) => p.ppid === master.pid && accepting(p))
}

// The recorded master itself: pid, start time and run tag (see isRecordedProcess), its group's leader, and
// (where the command line can be read) running this home's config.
function checkMaster(home: Home, master: GroupRecord, runId: string | undefined): void {
  const conf = path.resolve(home.nginxConf)
  const ok =
    master.pid > 1 &&
    master.pid === master.pgid &&
    isRecordedProcess(master, runId) &&
    startedWith(master.pid, '-c', conf) !== false
  if (!ok)
    throw new BackendManagerError(
      'NGINX',
      `nginx master pid ${master.pid} is not the recorded one (start time ${master.startTime}, running ${conf})` +
        `; it was not signalled. "backend-manager status" shows whether nginx is running`,
    )
}

// Renders into run/nginx-next.conf, checks it with nginx -t, then renames it over run/nginx.conf.
function swapConfig(home: Home, plan: Plan, drained: string[], env: NodeJS.ProcessEnv): boolean {
  const nginx = findNginx(home, env)
  if (!nginx) throw new BackendManagerError('NGINX', `nginx not found; ${installAdvice()}`)
  prepareNginxDirs(home)
  const conf = nginxPaths(home).conf
  const text = renderNginxConf(plan, home, { mimeTypes: mimeTypesFor(nginx.path), drained })
  const before = fs.lstatSync(conf, { throwIfNoEntry: false })?.isFile() ? fs.readFileSync(conf, 'utf8') : undefined
  const next = path.join(home.run, 'nginx-next.conf')
  writeFileAtomic(next, text)
  const check = testNginxConf(nginx, home, next, env)
  if (!check.ok) {
    fs.rmSync(next, { force: true })
    throw new BackendManagerError(
      'NGINX',
      `nginx rejected the new config; the running one is unchanged:\n${check.output}`,
    )
  }
  checkExisting(conf)
  fs.renameSync(next, conf)
  return before !== text
}

// Re-renders the config with `drained` marked down, reloads the recorded master gracefully, and resolves once every
// worker accepting connections runs the new config (with waitInFlight, once the old ones have exited too).
export async function reloadProxy(home: Home, plan: Plan, opts: ReloadOptions): Promise<ReloadResult> {
  if (plan.proxy.type !== 'nginx')
    throw new BackendManagerError('NGINX', `draining needs proxy.type nginx; this stack runs ${plan.proxy.type}`)
  const env = opts.env ?? process.env
  checkMaster(home, opts.master, opts.runId)
  const changed = swapConfig(home, plan, opts.drained ?? [], env)
  const old = acceptingWorkers(opts.master, processTable())
  // Checked again right before the signal: the check above ran before nginx -t, which takes a while.
  checkMaster(home, opts.master, opts.runId)
  if (!signal(opts.master.pid, 'SIGHUP'))
    throw new BackendManagerError('NGINX', `nginx master pid ${opts.master.pid} is gone; the reload was not sent`)
  const workers = await waitNewWorkers(home, opts.master, old, opts.timeoutMs ?? RELOAD_TIMEOUT_MS)
  const retiring = opts.waitInFlight ? await waitGone(old, WORKER_SHUTDOWN_MS + 5000, POLL_MS) : old
  return { changed, workers, retiring }
}

async function waitNewWorkers(home: Home, master: GroupRecord, old: ProcStat[], timeoutMs: number): Promise<number[]> {
  if (processTable().length === 0) {
    await sleep(BLIND_WAIT_MS)
    return []
  }
  const isOld = (p: ProcStat) => old.some((o) => o.pid === p.pid && o.startTime === p.startTime)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const now = acceptingWorkers(master, processTable())
    if (now.length > 0 && !now.some(isOld)) return now.map((p) => p.pid)
    if (Date.now() > deadline) break
    await sleep(POLL_MS)
  }
  const log = tailLines(nginxPaths(home).errorLog, 5).join('\n')
  throw new BackendManagerError(
    'NGINX',
    `nginx (master pid ${master.pid}) did not start workers with the new config within ${timeoutMs} ms; ` +
      `the end of ${nginxPaths(home).errorLog}:\n${log}`,
  )
}
