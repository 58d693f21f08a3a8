// The `logs` command: the last lines of the unified log, of one server or of nginx, -f to follow; and `logs clean`.
import fs from 'node:fs'
import path from 'node:path'
import { positiveInt, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './logs.meta.ts'
import { usageError } from '../../lib/core/errors.ts'
import { cleanLogs } from '../../lib/logs/clean.ts'
import { FileFollower, followFiles } from '../../lib/logs/follow.ts'
import { lineOwner, serverOf } from '../../lib/logs/line.ts'
import { loggedIds, nginxAccessLogPath, nginxErrorLogPath, unifiedLogPath } from '../../lib/logs/paths.ts'
import { readState, supervisorAlive } from '../../lib/stack/state.ts'
import { controlledWriter } from '../../lib/stack/control-client.ts'
import { noStackHere } from '../../lib/stack/registry.ts'
import { tailFile } from '../../lib/logs/tail.ts'
import { SUPERVISOR_ID } from '../../lib/logs/said.ts'
import { AFTER_STOP_ID } from '../../lib/stack/after-stop.ts'

export async function run({ subcommand, values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const target = subcommand ?? positionals[0]
  // Where no stack ever ran there are no logs to show or clean: say where the stacks are instead, creating nothing.
  if (!fs.existsSync(ctx.home.state) && !fs.existsSync(ctx.home.logs) && !values.follow) {
    ctx.stderr.write(`${noStackHere(ctx.home, ctx.env)}\n`)
    return 0
  }
  if (target === 'clean') {
    if (values.follow || values.lines !== undefined) throw usageError('logs clean: takes no flags')
    const result = await cleanLogs(ctx.home, controlledWriter(ctx.home), (line) => ctx.stderr.write(`${line}\n`))
    for (const skipped of result.skipped) ctx.stderr.write(`skipped: ${skipped}\n`)
    ctx.stdout.write(`cleaned ${result.files} log files in ${ctx.home.logs}\n`)
    return 0
  }
  const count = values.lines === undefined ? 100 : positiveInt('-n', values.lines, 0, 1_000_000)!
  if (target === 'nginx')
    return show(ctx, [nginxErrorLogPath(ctx.home), nginxAccessLogPath(ctx.home)], count, values.follow)
  const keep = target === undefined ? undefined : matcher(ctx, target)
  noteIfBehind(ctx)
  return show(ctx, [unifiedLogPath(ctx.home)], count, values.follow, keep)
}

// Lines of a server (every instance) or of one instance; anything else is a usage error naming what exists.
function matcher(ctx: Context, name: string): (line: string) => boolean {
  const state = readState(ctx.home)
  const ids = new Set([
    ...(state?.plan.processes.map((p) => p.id) ?? []),
    ...(state?.processes.map((p) => p.id) ?? []),
    ...loggedIds(ctx.home),
  ])
  const servers = new Map<string, string>()
  for (const p of state?.plan.processes ?? []) servers.set(p.id, p.server)
  const serverOfId = (id: string) => servers.get(id) ?? serverOf(id)
  if (ids.has(name) || name === SUPERVISOR_ID || name === AFTER_STOP_ID) return (line) => lineOwner(line) === name
  if ([...ids].some((id) => serverOfId(id) === name))
    return (line) => {
      const owner = lineOwner(line)
      return owner !== undefined && serverOfId(owner) === name
    }
  const known = [...ids].sort()
  const serverNames = [...new Set(known.map(serverOfId))]
  const what = known.length
    ? `a server (${serverNames.join(', ')}) or an instance (${known.join(', ')})`
    : `a server or an instance, but there are no process logs in ${ctx.home.logs} yet`
  throw usageError(`logs: unknown name "${name}"; expected "nginx", "${SUPERVISOR_ID}", "clean", ${what}`)
}

// With no supervisor, nothing adds to the unified log; each process's own file still gets everything.
function noteIfBehind(ctx: Context): void {
  let state
  try {
    state = readState(ctx.home)
  } catch {
    return
  }
  if (!state || state.supervisor.pid <= 0 || supervisorAlive(state)) return
  ctx.stderr.write(
    `note: the supervisor (pid ${state.supervisor.pid}) is not running, ` +
      `so ${path.basename(unifiedLogPath(ctx.home))} may be behind` +
      `; each process's output is in ${ctx.home.logs}/<name>-<instance>.log, and "start" catches up\n`,
  )
}

async function show(
  ctx: Context,
  files: string[],
  count: number,
  follow: boolean | undefined,
  keep?: (line: string) => boolean,
): Promise<number> {
  const out = ctx.stdout
  let closed = false
  let loop: ReturnType<typeof followFiles> | undefined
  // A reader that went away (| head) ends the command quietly.
  out.on('error', () => {
    closed = true
    loop?.stop()
  })
  const write = (lines: string[]) => {
    const shown = keep ? lines.filter(keep) : lines
    if (shown.length && !closed) out.write(shown.join('\n') + '\n')
  }
  const followers: FileFollower[] = []
  for (const file of files) {
    const tail = tailFile(file, count, keep)
    if (files.length > 1) ctx.stderr.write(`==> ${file} <==\n`)
    if (tail.end === 0 && tail.lines.length === 0 && !follow)
      ctx.stderr.write(`note: ${file} is empty or does not exist yet\n`)
    write(tail.lines)
    followers.push(new FileFollower(file, tail.end))
  }
  if (!follow || closed) return 0
  loop = followFiles(ctx.home, followers, (_file, lines) => write(lines))
  const stop = () => loop?.stop()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await loop.done
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  return 0
}
