// The running stack as commands change it (restart, scale, pause, apply): one change at a time; an instance stopped
// on purpose is no crash; the proxy is reloaded gracefully, with the instances being changed out of its rotation.
import { BackendManagerError } from '../core/errors.ts'
import type { Plan, ProcessSpec } from '../config/plan.ts'
import { signalGroup } from '../os/process-groups.ts'
import { stopProcesses, stopTargets } from '../os/terminate.ts'
import { waitReady } from '../probe/readiness.ts'
import { makeProxy } from '../proxy/process.ts'
import { describeStartFailure } from './last-failure.ts'
import { Stack } from './stack.ts'
import { stackPorts, type Managed } from './supervision.ts'
import { untilTaskEnds } from './tasks.ts'

export class LiveStack extends Stack {
  private queue: Promise<unknown> = Promise.resolve()
  // Instance ids kept out of the proxy's rotation (being restarted, paused, scaled down): marked down in nginx.
  readonly drained = new Set<string>()
  // What watches the stack once it is up (health checks, memory limits): stopped when it stops or is handed over.
  private readonly watchers: { stop(): void }[] = []

  keepWatching(...watchers: { stop(): void }[]): void {
    this.watchers.push(...watchers)
    if (this.stopping) this.endWatching()
  }

  private endWatching(): void {
    for (const w of this.watchers.splice(0)) w.stop()
  }

  override beginStopping(): void {
    this.endWatching()
    super.beginStopping()
  }

  override close(): void {
    this.endWatching()
    super.close()
  }

  // The supervisor's environment: the one its start ran with.
  get env(): NodeJS.ProcessEnv {
    return this.opts.env
  }
  // Told each new plan (apply, scale): what watches the servers' files follows it.
  onPlan?: (plan: Plan) => void

  // Runs one change after the other: a second command waits for the first instead of interleaving with it.
  exclusive<T>(change: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      if (this.stopping) throw new BackendManagerError('STOP_FAILED', 'the stack is stopping; nothing was changed')
      return change()
    })
    this.queue = next.catch(() => undefined)
    return next
  }

  get plan(): Plan {
    return this.opts.plan
  }

  // The plan the stack runs from now on (scaled, applied): kept in the state file, so a later supervisor runs it too.
  setPlan(plan: Plan): void {
    this.opts.plan = plan
    this.state.plan = plan
    // Envoy renders the plan it was made with: made again, so that its reload sees the new upstreams.
    if (plan.proxy.type === 'envoy') this.opts.proxy = makeProxy(this.opts.home, plan, this.opts.env)
    this.state.ports = stackPorts(plan, this.opts.proxy)
    this.save()
    this.onPlan?.(plan)
  }

  // The server instances (not the proxy), in plan order; of one server when named.
  instances(server?: string): Managed[] {
    return this.managed.filter((m) => m.kind === 'server' && (server === undefined || m.spec.server === server))
  }

  instance(id: string): Managed | undefined {
    return this.managed.find((m) => m.spec.id === id)
  }

  // Known instance ids of a server, or the server's name itself: refuses anything else, naming what exists.
  resolveTargets(names: string[]): Managed[] {
    const found = new Set<Managed>()
    for (const name of names) {
      const of = this.instances(name)
      const one = this.instance(name)
      if (of.length === 0 && (!one || one.kind !== 'server')) {
        const known = [...new Set(this.instances().map((m) => m.spec.server))].join(', ')
        throw new BackendManagerError(
          'USAGE',
          `no server or instance "${name}" in the running stack; servers: ${known || 'none'} (an instance is NAME-i)`,
        )
      }
      for (const m of of.length > 0 ? of : [one!]) found.add(m)
    }
    return [...found]
  }

  // nginx: re-rendered from the current plan with `drained` marked down, checked, and reloaded gracefully (HUP);
  // resolves once only workers with the new config take requests. Envoy re-reads its config only by a restart.
  async reloadProxy(reason: string, waitInFlight = false): Promise<void> {
    const proxy = this.managed.find((m) => m.kind === 'proxy')
    if (!proxy || !this.opts.proxy || proxy.record.pid <= 0) return
    if (this.plan.proxy.type === 'nginx') {
      const { reloadProxy } = await import('../proxy/nginx/reload.ts')
      await reloadProxy(this.opts.home, this.plan, {
        drained: [...new Set([...this.drained, ...this.pausedIds()])],
        master: proxy.record,
        runId: this.state.runId,
        env: this.opts.env,
        waitInFlight,
      })
    } else {
      if (!this.opts.proxy.prepare().changed) return
      this.opts.proxy.reload(proxy.record.pid)
    }
    this.emit({ kind: 'reload', id: proxy.spec.id, pid: proxy.record.pid, reason })
  }

  // Takes instances out of rotation and returns once nginx sends them nothing and their in-flight requests are done;
  // if the reload fails they are left in rotation, as they were.
  async drain(ms: Managed[], why: string): Promise<void> {
    const fresh = ms.filter((m) => !this.drained.has(m.spec.id))
    for (const m of fresh) this.drained.add(m.spec.id)
    try {
      await this.reloadProxy(`${idsOf(ms)} out of rotation: ${why}`, true)
    } catch (error) {
      for (const m of fresh) this.drained.delete(m.spec.id)
      throw error
    }
  }

  async undrain(ms: Managed[], why: string): Promise<void> {
    for (const m of ms) this.drained.delete(m.spec.id)
    await this.reloadProxy(`${idsOf(ms)} back in rotation: ${why}`)
  }

  // Stops one instance on purpose (no restart follows); with `remove`, it also leaves the stack and its state.
  async stopInstance(m: Managed, remove: boolean): Promise<void> {
    m.retiring = true
    const report = await stopProcesses(
      stopTargets([m.record], () => m.spec),
      { runId: this.state.runId },
    )
    if (report.survivors.length)
      throw new BackendManagerError('STOP_FAILED', `could not stop ${m.spec.id}:\n${report.survivors.join('\n')}`)
    await exited(m)
    m.record.state = 'stopped'
    if (remove) {
      this.managed.splice(this.managed.indexOf(m), 1)
      this.state.processes = this.state.processes.filter((p) => p.id !== m.spec.id)
    }
    this.save()
  }

  // Starts an instance the plan now has (scale up, apply) and waits until it is ready; on failure it is stopped,
  // dropped, and the error names it with its last lines.
  async startInstance(spec: ProcessSpec): Promise<Managed> {
    if (this.instance(spec.id)) throw new BackendManagerError('USAGE', `${spec.id} already runs`)
    const m = this.newManaged(spec, 'server')
    this.watch(m, true)
    this.record(m.record)
    this.spawn(m)
    await this.untilReady(m, true)
    return m
  }

  // Stops an instance and starts it again with its spec (the current one, after an apply), then waits until ready.
  async restartInstance(m: Managed, spec: ProcessSpec = m.spec): Promise<void> {
    await this.stopInstance(m, false)
    m.spec = spec
    m.retiring = false
    m.unstable = 0
    m.record.state = 'starting'
    this.spawn(m)
    await this.untilReady(m, false)
  }

  private async untilReady(m: Managed, dropOnFailure: boolean): Promise<void> {
    const spec = m.spec
    const aborted = () => m.exitReason ?? (this.stopping ? 'the stack is stopping' : undefined)
    // A task is run again to its end (a restart): ready once it completed.
    const result = spec.task
      ? await untilTaskEnds(m.record, spec.readyTimeoutMs, () => (this.stopping ? 'the stack is stopping' : undefined))
      : await waitReady(spec.readiness, spec.host, spec.port, spec.readyTimeoutMs, aborted)
    if (result.ok) return spec.task ? undefined : this.markReady(m, result.detail)
    const message = describeStartFailure(this.startFailure(m, result.detail))
    if (dropOnFailure) await this.stopInstance(m, true)
    else signalGroup(m.record, 'SIGKILL', this.state.runId)
    throw new BackendManagerError('START_FAILED', message)
  }
}

// Instance ids as a command's messages list them.
export const idsOf = (ms: Managed[]) => ms.map((m) => m.spec.id).join(', ')

// Resolves once the instance's child has said how it ended (its exit line and record come first).
function exited(m: Managed): Promise<void> {
  const child = m.child
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => setImmediate(resolve)))
}

// The "targets" of a command's body: a non-empty list of server names or NAME-i instance ids.
export function targetNames(targets: unknown): string[] {
  if (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === 'string' && t !== ''))
    return targets as string[]
  throw new BackendManagerError(
    'USAGE',
    `"targets" must be a non-empty list of server names or NAME-i instance ids, got ${JSON.stringify(targets)}`,
  )
}
