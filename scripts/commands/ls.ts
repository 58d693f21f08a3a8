// The `ls` command: every stack this user runs, wherever it was started, with its health.
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './ls.meta.ts'
import { homeAt } from '../../lib/core/home.ts'
import { table } from '../../lib/core/table.ts'
import { registryDir, runningStacks } from '../../lib/stack/registry.ts'
import { collectStatus } from '../../lib/stack/status.ts'

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const rows = await Promise.all(
    runningStacks(ctx.env).map(async (s) => {
      const status = s.problem ? undefined : await collectStatus(homeAt(s.home)).catch(() => undefined)
      const servers = status?.processes.filter((p) => p.kind !== 'supervisor') ?? []
      const healthyCount = servers.filter((p) => p.healthy).length
      const health = s.problem
        ? 'state unreadable'
        : !s.supervisorAlive
          ? 'supervisor gone'
          : status?.healthy
            ? 'all healthy'
            : `degraded (${healthyCount} of ${servers.length} healthy)`
      return {
        home: s.home,
        config: s.config,
        supervisorPid: s.supervisorPid,
        supervisorAlive: s.supervisorAlive,
        healthy: Boolean(status?.healthy),
        health,
        processes: servers.length,
        problem: s.problem ?? null,
      }
    }),
  )
  if (values.json) ctx.stdout.write(JSON.stringify(rows, null, 2) + '\n')
  else if (rows.length === 0) ctx.stdout.write(`no stacks running (registry: ${registryDir(ctx.env)})\n`)
  else
    ctx.stdout.write(
      table(
        ['HOME', 'CONFIG', 'SUPERVISOR', 'PROCESSES', 'HEALTH'],
        rows.map((r) => [
          r.home,
          r.config,
          r.supervisorPid > 0 ? String(r.supervisorPid) : '-',
          String(r.processes),
          r.health,
        ]),
      ),
    )
  return 0
}
