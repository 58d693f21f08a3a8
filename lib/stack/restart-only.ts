// restart --only: which plan it runs, and stopping exactly the named servers while the rest keeps running; with a live
// supervisor running that very plan, the supervisor restarts them itself, one instance at a time.
import fs from 'node:fs'
import http from 'node:http'
import { BackendManagerError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import type { Config } from '../config/types.ts'
import { resolvePlan, selectServers, type Plan } from '../config/plan.ts'
import { readState, supervisorAlive, writeState, type StackState } from './state.ts'
import { commandSupervisor, controlSocketPath } from './control-client.ts'
import type { Restarted } from './rolling.ts'
import { describeEvent, type SupervisorEvent } from './events.ts'
import { stopProcesses } from '../os/terminate.ts'
import { quietSupervisor, targetsOf, waitSupervisorExit } from './stop.ts'

// Exactly the named servers are restarted; the plan keeps what runs and what they depend on, which is adopted.
// Refuses unknown names (exit 2) before anything is stopped.
export function onlyPlan(
  config: Config,
  only: string[],
  state: StackState | undefined,
  configPath: string,
): { plan: Plan; servers: string[]; instances: string[] } {
  // NAME-i: one running instance, restarted alone by the live supervisor; its server is what the plan needs.
  const ids = new Set(state?.plan.processes.map((p) => p.id) ?? [])
  const instances = only.filter((name) => ids.has(name) && !config.servers.some((s) => s.name === name))
  const serverOf = (name: string) => (instances.includes(name) ? name.slice(0, name.lastIndexOf('-')) : name)
  only = only.map(serverOf)
  selectServers(config.servers, only, config.file)
  const servers = [...new Set(only)]
  const known = new Set(config.servers.map((s) => s.name))
  const running = (state?.plan.processes.map((p) => p.server) ?? []).filter((name) => known.has(name))
  return { plan: { ...resolvePlan(config, [...new Set([...running, ...servers])]), configPath }, servers, instances }
}

// The supervisor hands its watch back (SIGUSR2: it exits and leaves every process running); then only these
// servers are stopped and dropped from the state, for the next start to start them again and adopt the rest.
export async function stopOnly(home: Home, servers: string[], onWait?: (what: string) => void): Promise<void> {
  const before = readState(home)
  if (!before) throw new BackendManagerError('NOT_FOUND', `nothing is running from ${home.root}; use "start"`)
  let state = await quietSupervisor(home, before, 'SIGUSR2')
  await waitSupervisorExit(state)
  const report = await stopProcesses(targetsOf(state, new Set(servers)), { runId: state.runId, onWait })
  if (report.survivors.length)
    throw new BackendManagerError('STOP_FAILED', `could not stop:\n${report.survivors.join('\n')}`)
  state = readState(home) ?? state
  state.processes = state.processes.filter((p) => !servers.includes(p.server))
  state.supervisor = { pid: 0, startTime: '' }
  writeState(home, state)
}

// A running stack whose supervisor serves its socket and runs these servers (every server when none are named) as
// the config says can restart them in place; anything else (no supervisor, one still bringing the stack up, a
// changed config) takes the stop-and-start path.
export function canRestartLive(home: Home, plan: Plan, servers?: string[]): boolean {
  const state = readState(home)
  return (
    state !== undefined &&
    state.phase === 'running' &&
    supervisorAlive(state) &&
    runsConfig(state.plan, plan, servers) &&
    fs.lstatSync(controlSocketPath(home), { throwIfNoEntry: false })?.isSocket() === true
  )
}

// The running plan is the config's for these servers (all, with the same proxy and routes, when none are named),
// but for how many instances each runs: `scale` changes that at runtime, and a restart keeps it.
export function runsConfig(running: Plan, wanted: Plan, servers?: string[]): boolean {
  const json = (x: unknown) => JSON.stringify(x)
  const names = (p: Plan) => [...new Set(p.processes.map((s) => s.server))].sort()
  if (!servers) {
    const shape = (p: Plan) => json({ proxy: p.proxy, logs: p.logs, routes: p.routes, servers: names(p) })
    if (shape(running) !== shape(wanted)) return false
  }
  return (servers ?? names(wanted)).every((server) => {
    const now = running.processes.filter((p) => p.server === server)
    const want = new Map(wanted.processes.filter((p) => p.server === server).map((p) => [p.id, json(p)]))
    return now.length > 0 && want.size > 0 && now.every((p) => !want.has(p.id) || want.get(p.id) === json(p))
  })
}

export interface RollingAnswer {
  restarted: Restarted[]
  ms: number
}

// POST /v1/restart: the supervisor restarts these servers or instances (every server when none are named); what it
// does meanwhile (drain, reload, exit, spawn, ready) is told to `progress` as it happens, one line per event.
export async function restartLive(
  home: Home,
  targets: string[] | undefined,
  progress: (line: string) => void = () => {},
): Promise<RollingAnswer> {
  const events = await followEvents(home, Date.now(), (e) => progress(describeEvent(e)))
  try {
    const answer = await commandSupervisor(home, '/v1/restart', targets ? { targets } : {})
    return { restarted: (answer.restarted ?? []) as Restarted[], ms: Number(answer.ms) }
  } finally {
    await events.close()
  }
}

// Lines the stream sent just before the answer may arrive just after it: read for this long before closing.
const EVENT_TAIL_MS = 50
// A supervisor that does not open the stream by then is not waited for: the restart goes on without progress.
const STREAM_OPEN_MS = 2000

// GET /v1/events from `since` on, each event to `onEvent`; resolves once the stream is open (the supervisor has
// subscribed), or without it after a while or an error: the events are progress only, the answer says what was done.
function followEvents(
  home: Home,
  since: number,
  onEvent: (e: SupervisorEvent) => void,
): Promise<{ close(): Promise<void> }> {
  return new Promise((resolve) => {
    let rest = ''
    const req = http.get({ socketPath: controlSocketPath(home), path: `/v1/events?since=${since}` }, (res) => {
      if (res.statusCode !== 200) return void res.resume()
      res.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n')
        rest = lines.pop() ?? ''
        for (const line of lines) {
          try {
            const event = JSON.parse(line) as SupervisorEvent
            if (typeof event?.kind === 'string') onEvent(event)
          } catch {
            // Not an event line: nothing to show.
          }
        }
      })
      res.on('error', () => {})
      opened()
    })
    const handle = {
      close: async () => {
        await new Promise((r) => setTimeout(r, EVENT_TAIL_MS))
        req.destroy()
      },
    }
    const timer = setTimeout(() => opened(), STREAM_OPEN_MS)
    const opened = () => {
      clearTimeout(timer)
      resolve(handle)
    }
    req.on('error', opened)
  })
}
