// Starting a stack: the checks before anything starts, and bringing it up in this process (--foreground).
import fs from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import { freeBytes } from '../logs/paths.ts'
import type { Plan, ProcessSpec } from '../config/plan.ts'
import { refuseBusyPorts } from '../os/ports.ts'
import { isRecordedProcess, isSameProcess } from '../os/platform.ts'
import { makeProxy, proxyPorts } from '../proxy/process.ts'
import { ensureNginx } from '../proxy/nginx/install.ts'
import { removeState, supervisorAlive, type StackState } from './state.ts'
import type { ProcessRecord } from '../os/process-record.ts'
import { registerStack } from './registry.ts'
import { stopProcesses } from '../os/terminate.ts'
import { LiveStack } from './live.ts'
import { watchRunning } from './watchers.ts'
import type { ProgressEvent } from './supervision.ts'
import { clearLastFailure } from './last-failure.ts'
import { targetsOf } from './stop.ts'
import { keepScale, runsPlan } from './scale.ts'

export interface LifecycleIO {
  home: Home
  env: NodeJS.ProcessEnv
  // Progress for humans; the commands decide how it looks.
  progress?: (event: ProgressEvent) => void
  notice?: (line: string) => void
}

// A start of the config a scaled stack runs keeps the scale (the steps in run.ts call it from here).
export { keepScale }

export const newRunId = () => randomBytes(6).toString('hex')

function refuseIfRunning(home: Home, state: StackState | undefined, plan: Plan): void {
  if (!state || !supervisorAlive(state)) return
  const same = runsPlan(state, plan)
  const sameFile = state.plan.configPath !== undefined && state.plan.configPath === plan.configPath
  const changed =
    sameFile && !same ? ', run differently: the file changed since, or another --only, --port-offset or --layout' : ''
  const follow = same ? ' ("logs -f" follows its output)' : ''
  const what = `a stack is already running from ${home.root} (supervisor pid ${state.supervisor.pid}, config ${state.plan.file}${changed})`
  throw new BackendManagerError('START_FAILED', `${what}; use "restart" or "stop" first${follow}`)
}

// Less free than this on the home's disk: the servers' first output would fill it and the start would fail halfway.
const MIN_FREE_BYTES = 1 << 20

// Fails before anything is written or started when the disk holding the home is (nearly) full; checked before
// the lock, whose own write would otherwise be the first to fail.
export function checkFreeSpace(home: Home): void {
  let dir = home.root
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir)
  const free = freeBytes(dir)
  if (free < MIN_FREE_BYTES)
    throw new BackendManagerError(
      'START_FAILED',
      `${home.root}: no space left on its disk (${Math.floor(free / 1024)} KB free, ` +
        `start needs at least ${MIN_FREE_BYTES >> 10} KB for state and logs)` +
        `; free some space there (e.g. "backend-manager logs clean") and start again; nothing was started`,
    )
}

// Every port the plan binds is free, except those held by processes this start will adopt.
async function checkPorts(plan: Plan, previous: StackState | undefined): Promise<void> {
  const live = (previous?.processes ?? []).filter((p) => p.port !== undefined && isRecordedProcess(p, previous!.runId))
  const adopted = new Set(live.map((p) => p.port!))
  // An adopted proxy holds all its ports (gRPC, Envoy admin), not only the one it is recorded with.
  const proxy = live.some((p) => p.kind === 'proxy') ? [] : proxyPorts(plan)
  const wanted = [...plan.processes, ...proxy.map((port) => ({ port, host: plan.proxy.host }))]
  await refuseBusyPorts(
    wanted.filter((e) => e.port === undefined || !adopted.has(e.port)),
    'nothing was started',
  )
}

// What a process was started as: if any of it changed in the config, the running one cannot be adopted.
const identity = (p: ProcessSpec | undefined) => p && JSON.stringify([p.argv, p.cwd, p.env, p.port, p.host])

// A start over a stack whose supervisor died adopts only what the new plan runs unchanged; whatever the
// config dropped or changed is stopped first, so it is neither orphaned nor left holding a port.
async function retireStale(plan: Plan, previous: StackState, notice?: (line: string) => void): Promise<StackState> {
  const wanted = new Map(plan.processes.map((p) => [p.id, p]))
  const before = new Map(previous.plan.processes.map((p) => [p.id, p]))
  const proxyKept = (['type', 'host', 'port', 'grpc_port', 'admin_port'] as const).every(
    (k) => plan.proxy[k] === previous.plan.proxy[k],
  )
  const keep = (r: ProcessRecord) =>
    r.kind === 'proxy' ? proxyKept : wanted.has(r.id) && identity(wanted.get(r.id)) === identity(before.get(r.id))
  const stale = previous.processes.filter((r) => !keep(r) && isSameProcess(r.pid, r.startTime))
  if (stale.length === 0) return { ...previous, processes: previous.processes.filter(keep) }
  notice?.(`stopping what the config no longer runs as it was: ${stale.map((r) => r.id).join(', ')}`)
  const report = await stopProcesses(targetsOf({ ...previous, processes: stale }), { runId: previous.runId })
  if (report.survivors.length)
    throw new BackendManagerError(
      'STOP_FAILED',
      `could not stop the previous stack's ${stale.map((r) => r.id).join(', ')}:\n${report.survivors.join('\n')}`,
    )
  return { ...previous, processes: previous.processes.filter(keep) }
}

// A stack that runs this very plan under a live supervisor: a second start has nothing to do.
export function alreadyRunning(state: StackState | undefined, plan: Plan): state is StackState {
  return state !== undefined && supervisorAlive(state) && runsPlan(state, plan)
}

// A missing proxy binary is installed (nginx) or reported now, before anything is stopped or handed over.
export async function ensureProxy(plan: Plan, io: LifecycleIO): Promise<void> {
  if (plan.proxy.type === 'nginx') await ensureNginx(io.home, io.env, io.notice)
  makeProxy(io.home, plan, io.env)
}

// What every start checks under the lock before it starts anything (detached or --foreground); returns
// the previous state to adopt from.
export async function preflight(
  home: Home,
  plan: Plan,
  previous: StackState | undefined,
  notice?: (line: string) => void,
): Promise<StackState | undefined> {
  refuseIfRunning(home, previous, plan)
  // A new start: an earlier one's failure no longer describes the stack.
  clearLastFailure(home)
  const adoptable = previous && (await retireStale(plan, previous, notice))
  await checkPorts(plan, adoptable)
  return adoptable
}

// Runs the whole start in this process, which then supervises it in the terminal (--foreground).
export async function bringUpHere(plan: Plan, io: LifecycleIO, previous?: StackState): Promise<LiveStack> {
  if (plan.proxy.type === 'nginx') await ensureNginx(io.home, io.env, io.notice)
  const stack = new LiveStack({
    home: io.home,
    plan,
    env: io.env,
    runId: previous?.runId ?? newRunId(),
    proxy: makeProxy(io.home, plan, io.env),
    previous,
    progress: io.progress,
    log: io.notice,
  })
  // Ctrl+C (or a closed terminal) while waiting must not leave half a stack running with nobody watching it.
  const interrupt = () => stack.abort('start interrupted; nothing is left running')
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
  for (const signal of signals) process.once(signal, interrupt)
  try {
    await stack.bringUp()
  } catch (error) {
    io.notice?.('stopping what was started')
    await stack.stopAll()
    removeState(io.home)
    throw error
  } finally {
    for (const signal of signals) process.off(signal, interrupt)
  }
  registerStack(io.home, stack.state, io.env)
  watchRunning(stack, io.env, io.notice ?? (() => {}))
  return stack
}
