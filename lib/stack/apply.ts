// apply: the running stack brought to a new config without stopping what did not change. Added instances start
// (ready before the proxy sends them anything), the new plan and routes take effect with one proxy reload, removed
// instances stop once out of rotation, changed ones restart one at a time with their new spec.
import path from 'node:path'
import { BackendManagerError, isKnownError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'
import { loadConfig } from '../config/load.ts'
import { asStarted } from '../config/port-offset.ts'
import { resolvePlan, type Plan, type ProcessSpec } from '../config/plan.ts'
import { describeDiff, diffPlans, hasChanges, type PlanDiff } from '../config/plan-diff.ts'
import { refuseBusyPorts } from '../os/ports.ts'
import { plural } from '../core/words.ts'
import type { LiveStack } from './live.ts'
import { rollingRestart } from './rolling.ts'

export interface ApplyAnswer {
  config: string
  dryRun: boolean
  changed: boolean
  diff: PlanDiff
  // The diff for reading, as the CLI prints it.
  lines: string[]
  done: string[]
}

interface Step {
  what: string
  run(): Promise<void>
}

// The request body of POST /v1/apply: { configPath?, dryRun? }; the path defaults to the running stack's config.
function readRequest(body: Record<string, unknown>, live: LiveStack): { file: string; dryRun: boolean } {
  const { configPath, dryRun } = body
  if (dryRun !== undefined && typeof dryRun !== 'boolean')
    throw new BackendManagerError('USAGE', `dryRun: expected true or false, got ${JSON.stringify(dryRun)}`)
  const file = configPath ?? live.plan.configPath
  if (typeof file !== 'string' || !path.isAbsolute(file))
    throw new BackendManagerError(
      'USAGE',
      `configPath: expected the config file's absolute path, got ${JSON.stringify(configPath)}` +
        (file === undefined ? ' (and the running stack records none)' : ''),
    )
  return { file, dryRun: dryRun ?? false }
}

function offsetIn(body: Record<string, unknown>): number {
  const n = body.portOffset
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65534)
    throw new BackendManagerError(
      'USAGE',
      `portOffset: expected a whole number from 0 to 65534, got ${JSON.stringify(n)}`,
    )
  return n
}

// Ports the change binds anew (added instances, instances moving to another port) that something else holds.
async function checkPorts(live: LiveStack, diff: PlanDiff): Promise<void> {
  const runningPort = (id: string) => live.plan.processes.find((p) => p.id === id)?.port
  const fresh = [...diff.instances.added, ...diff.instances.restarted.filter((p) => p.port !== runningPort(p.id))]
  await refuseBusyPorts(fresh, 'nothing was changed')
}

function stepsFor(live: LiveStack, plan: Plan, diff: PlanDiff): Step[] {
  const steps: Step[] = []
  // In the new plan's start order: what an added server depends on is ready before it starts.
  for (const spec of diff.instances.added)
    steps.push({ what: `start ${spec.id}`, run: async () => void (await live.startInstance(spec)) })
  const proxyChange = diff.proxy.length > 0 && live.plan.proxy.type !== 'none'
  steps.push({
    what: proxyChange ? `take the new plan and reload ${live.plan.proxy.type}` : 'take the new plan',
    async run() {
      live.setPlan(plan)
      // Health, restart policy, timeouts: taken as they are, without a restart.
      for (const spec of diff.instances.updated) {
        const m = live.instance(spec.id)
        if (m) m.spec = spec
      }
      // Waits for requests in flight, so the instances leaving the upstreams are idle when they are stopped.
      if (proxyChange) await live.reloadProxy(`apply: ${plural(diff.proxy.length, 'route or upstream change')}`, true)
    },
  })
  // Dependents before what they depend on: the reverse of the running plan's start order.
  const order = (id: string) => live.plan.processes.findIndex((p) => p.id === id)
  for (const id of [...diff.instances.removed].sort((a, b) => order(b) - order(a)))
    steps.push({
      what: `stop ${id}`,
      async run() {
        const m = live.instance(id)
        if (m) await live.stopInstance(m, true)
        live.drained.delete(id)
      },
    })
  const specs = new Map<string, ProcessSpec>(diff.instances.restarted.map((p) => [p.id, p]))
  for (const spec of diff.instances.restarted)
    steps.push({
      what: `restart ${spec.id}`,
      async run() {
        const m = live.instance(spec.id)
        if (!m) return
        await rollingRestart(live, [m], (t) => specs.get(t.spec.id) ?? t.spec)
        // Status and stop read the port from the record: it moves with the instance.
        m.record.port = spec.port
        live.save()
      },
    })
  return steps
}

// Runs each step in turn; a failure says what was done and what was not.
async function runSteps(steps: Step[]): Promise<string[]> {
  const done: string[] = []
  for (const [i, step] of steps.entries()) {
    try {
      await step.run()
      done.push(step.what)
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error)
      const rest = steps.slice(i + 1).map((s) => s.what)
      throw new BackendManagerError(
        isKnownError(error) ? error.code : 'START_FAILED',
        `apply failed at "${step.what}": ${why}\n` +
          `done: ${done.join(', ') || 'nothing'}\n` +
          `not done: ${[step.what, ...rest].join(', ')}`,
      )
    }
  }
  return done
}

// Loads and validates the config (a bad one is refused as `start` refuses it: nothing changes), diffs it against
// the running plan and, unless a dry run, applies it as one change.
export async function applyConfig(home: Home, live: LiveStack, body: Record<string, unknown>): Promise<ApplyAnswer> {
  const { file, dryRun } = readRequest(body, live)
  const given = body.portOffset === undefined ? undefined : { value: offsetIn(body), from: '--port-offset' }
  // Read as the start read it: its ${VAR} values over this supervisor's environment (the start's), its offset.
  const config = loadConfig(file, { cacheFile: home.configCache, ...asStarted(live.plan, given, live.env) })
  // Started with --watch, it goes on watching (what the new config says to watch).
  const plan: Plan = { ...resolvePlan(config), configPath: file, ...(live.plan.watch ? { watch: true as const } : {}) }
  return live.exclusive(async () => {
    const diff = diffPlans(live.plan, plan)
    if (diff.refused) throw new BackendManagerError('USAGE', `${file}: ${diff.refused}; nothing was changed`)
    const answer = { config: file, dryRun, changed: hasChanges(diff), diff, lines: describeDiff(diff), done: [] }
    if (dryRun || !answer.changed) return answer
    await checkPorts(live, diff)
    return { ...answer, done: await runSteps(stepsFor(live, plan, diff)) }
  })
}
