// What each tool of the MCP server answers, as plain data: the running stack through its control socket and its
// state and log files. Failures are BackendManagerErrors, which the server turns into error results.
import path from 'node:path'
import { BackendManagerError, usageError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import { loadConfig } from '../config/load.ts'
import { asStarted } from '../config/port-offset.ts'
import { resolvePlan } from '../config/plan.ts'
import { readLogSince } from '../logs/cursor.ts'
import { lineOwner, serverOf } from '../logs/line.ts'
import { loggedIds } from '../logs/paths.ts'
import { SUPERVISOR_ID } from '../logs/said.ts'
import { commandSupervisor, statusFromSupervisor } from '../stack/control-client.ts'
import { checkHealth } from '../stack/health.ts'
import { describeStartFailure, readLastFailure } from '../stack/last-failure.ts'
import { noStackHere } from '../stack/registry.ts'
import { keepScale } from '../stack/scale.ts'
import { readState, supervisorAlive, type StackState } from '../stack/state.ts'
import { collectStatus } from '../stack/status.ts'
import { DEFAULT_CONFIG } from '../cli/context.ts'
import { planJson } from '../cli/plan-format.ts'

export interface ToolContext {
  home: Home
  env: NodeJS.ProcessEnv
  cwd: string
}

// The stack this home runs, with a live supervisor; else an error saying so and where stacks run instead.
function runningState(ctx: ToolContext): StackState {
  const state = readState(ctx.home)
  if (state && supervisorAlive(state)) return state
  const failed = readLastFailure(ctx.home)
  const why = failed ? `; the last start failed: ${describeStartFailure(failed)}` : ''
  const gone = state ? `the supervisor of the stack in ${ctx.home.root} is not running ("start" re-adopts it)` : ''
  throw new BackendManagerError('NOT_FOUND', `${gone || noStackHere(ctx.home, ctx.env)}${why}`)
}

export async function statusTool(ctx: ToolContext) {
  runningState(ctx)
  const status = (await statusFromSupervisor(ctx.home)) ?? (await collectStatus(ctx.home))
  return {
    home: status.home,
    config: status.config,
    healthy: status.healthy,
    ...(status.logBehind ? { logBehind: status.logBehind } : {}),
    processes: status.processes.map((p) => ({
      id: p.id,
      state: p.state,
      pid: p.pid,
      port: p.port,
      health: p.health,
      restarts: p.restarts,
      lastExit: p.lastExit,
    })),
  }
}

// Lines of a server (every instance), one instance or the supervisor; anything else is refused, naming what exists.
function lineFilter(state: StackState | undefined, home: Home, name: string): (line: string) => boolean {
  const servers = new Map<string, string>()
  for (const p of state?.plan.processes ?? []) servers.set(p.id, p.server)
  const ids = new Set([...servers.keys(), ...(state?.processes.map((p) => p.id) ?? []), ...loggedIds(home)])
  const serverOfId = (id: string) => servers.get(id) ?? serverOf(id)
  if (ids.has(name) || name === SUPERVISOR_ID) return (line) => lineOwner(line) === name
  if ([...ids].some((id) => serverOfId(id) === name))
    return (line) => {
      const owner = lineOwner(line)
      return owner !== undefined && serverOfId(owner) === name
    }
  const known = [...ids].sort()
  const names = [...new Set([...known.map(serverOfId), ...known, SUPERVISOR_ID])]
  throw usageError(`logs: unknown server "${name}"; expected one of ${names.join(', ')}, or no server for every line`)
}

export async function logsTool(ctx: ToolContext, args: { server?: string; cursor?: string; limit?: number }) {
  const state = runningState(ctx)
  const keep = args.server === undefined ? undefined : lineFilter(state, ctx.home, args.server)
  return readLogSince(ctx.home, args.cursor, args.limit ?? 100, keep)
}

export async function restartTool(ctx: ToolContext, args: { names?: string[] }) {
  runningState(ctx)
  const body = args.names?.length ? { targets: args.names } : {}
  return commandSupervisor(ctx.home, '/v1/restart', body)
}

export async function scaleTool(ctx: ToolContext, args: { servers: Record<string, number> }) {
  runningState(ctx)
  return commandSupervisor(ctx.home, '/v1/scale', { servers: args.servers })
}

export async function healthTool(ctx: ToolContext) {
  const state = runningState(ctx)
  const paused = new Set(state.processes.filter((p) => p.state === 'paused').map((p) => p.id))
  const rows = await checkHealth(state.plan, paused)
  return {
    healthy: rows.every((r) => r.result.ok),
    rows: rows.map((r) => ({ target: r.target, via: r.via, url: r.url, ok: r.result.ok, detail: r.result.detail })),
  }
}

// What a start of the config would run (the running stack's config when none is named, read as its start read
// it), scaled as the stack runs it. Environments are left out: they may hold secrets and are long.
export async function planTool(ctx: ToolContext, args: { config?: string }) {
  let state: StackState | undefined
  try {
    state = readState(ctx.home)
  } catch {
    state = undefined
  }
  const running = state?.plan.configPath
  const file = path.resolve(ctx.cwd, args.config ?? running ?? DEFAULT_CONFIG)
  const asRunning = state && file === running ? state.plan : undefined
  const plan = keepScale(
    { ...resolvePlan(loadConfig(file, asStarted(asRunning, undefined, ctx.env))), configPath: file },
    state,
  )
  const json = planJson(plan)
  return {
    config: file,
    running: Boolean(state && supervisorAlive(state)),
    ...(json.scaled ? { scaled: json.scaled } : {}),
    proxy: json.proxy,
    processes: json.processes.map(({ env: _env, ...p }) => p),
    routes: json.routes,
  }
}
