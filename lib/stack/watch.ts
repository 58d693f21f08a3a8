// start --watch: each server with `watch:` is restarted (rolling, so 2+ instances drop no request) once its files
// stop changing; a crashed one waits for the next change. A task with `watch:` runs again on a change, never on its
// own writes, and restarts its `then_restart` servers after it succeeded.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import type { Home } from '../core/home.ts'
import type { WatchConfig } from '../config/types.ts'
import { Debouncer, watchFiles, type FileWatcher } from '../os/file-watcher.ts'
import { shownPath } from '../os/globs.ts'
import type { LiveStack } from './live.ts'
import { rollingRestart } from './rolling.ts'
import type { Managed } from './supervision.ts'

interface Target {
  server: string
  config: WatchConfig
  files: FileWatcher
  debouncer: Debouncer<string>
  // When its last restart (or run) began: what changed before it is already in what it started.
  startedAt: number
  // Files waiting for their turn (another change to the stack runs first), and the last one's time.
  queued?: { files: Set<string>; at: number }
  // A task while it runs: what changes meanwhile is its own doing, and what it left is read once it is over.
  running: boolean
  // Each file's content when last read (a task's, after its run; a server's, before then_restart restarts it):
  // a change event that leaves these bytes as they were (the late echo of a generator's write) is no change.
  seen: Map<string, string>
}

export class StackWatcher {
  private readonly targets = new Map<string, Target>()
  private readonly stopListening: () => void
  private closed = false

  constructor(
    private readonly live: LiveStack,
    private readonly home: Home,
    private readonly log: (line: string) => void,
  ) {
    // Given up on (its restart policy ran out, or it did not start on the last change): the next change starts it.
    this.stopListening = live.events.subscribe((e) => {
      if (e.kind !== 'crash' || this.closed) return
      const server = live.instance(e.id)?.spec.server
      if (server && this.targets.has(server)) live.events.emit({ kind: 'watch', action: 'wait', id: e.id })
    })
  }

  // Watches what the running plan says: a server's watch that changed is watched anew, a removed one no more.
  async sync(): Promise<void> {
    const wanted = new Map<string, WatchConfig>()
    for (const p of this.live.plan.processes) if (p.watch && !wanted.has(p.server)) wanted.set(p.server, p.watch)
    for (const [server, t] of this.targets)
      if (JSON.stringify(wanted.get(server)) !== JSON.stringify(t.config)) await this.drop(server, t)
    const added = [...wanted].filter(([server]) => !this.targets.has(server))
    for (const [server, config] of added) this.targets.set(server, this.watchOne(server, config))
    await Promise.all(added.map(([server]) => this.targets.get(server)!.files.ready))
    // A task's files as its last run left them: touching one without changing it runs nothing.
    for (const [server] of added)
      if (this.isTaskTarget(this.targets.get(server)!)) this.snapshot(this.targets.get(server)!)
    if (added.length) this.log(`watching ${added.map(([s, c]) => `${s} (${c.paths.join(', ')})`).join(', ')}`)
  }

  async close(): Promise<void> {
    this.closed = true
    this.stopListening()
    for (const [server, t] of this.targets) await this.drop(server, t)
  }

  private async drop(server: string, t: Target): Promise<void> {
    this.targets.delete(server)
    t.debouncer.close()
    await t.files.close()
  }

  private watchOne(server: string, config: WatchConfig): Target {
    const t: Target = {
      server,
      config,
      startedAt: 0,
      running: false,
      seen: new Map(),
      debouncer: new Debouncer(config.debounce, (files, at) => this.changed(t, files, at)),
      files: watchFiles({
        root: config.root,
        paths: config.paths,
        ignore: config.ignore,
        // What the stack itself writes all the time: its state and logs.
        exclude: [this.home.run, this.home.logs],
        onChange: (file, at) => {
          if (!t.running) t.debouncer.add(file, at)
        },
        onError: (message) => this.log(`watching ${server}: ${message}`),
      }),
    }
    return t
  }

  // Files stopped changing: their restart waits for its turn; files changed meanwhile join it.
  private changed(t: Target, files: string[], at: number): void {
    if (this.closed || at < t.startedAt) return
    const task = this.isTaskTarget(t)
    const fresh = files.filter((f) => !this.unchanged(t, f, task))
    if (fresh.length === 0) return
    if (t.queued) {
      for (const f of fresh) t.queued.files.add(f)
      t.queued.at = Math.max(t.queued.at, at)
      return
    }
    t.queued = { files: new Set(fresh), at }
    this.live
      .exclusive(() => this.act(t))
      .catch((error) => this.log(`${t.server}: ${error instanceof Error ? error.message : String(error)}`))
  }

  private async act(t: Target): Promise<void> {
    const queued = t.queued!
    t.queued = undefined
    // Restarted (by then_restart) since these changes: the processes it started have them already.
    if (this.closed || this.targets.get(t.server) !== t || queued.at < t.startedAt) return
    const instances = this.live.instances(t.server).filter((m) => m.record.state !== 'paused')
    if (instances.length === 0) return
    const files = [...queued.files].map((f) => shownPath(t.config.root, f)).sort()
    const change = { file: files[0], more: files.length - 1 }
    if (instances[0].spec.task) return this.runTask(t, instances[0], change)
    await this.restart(t.server, instances, change)
  }

  // A rolling restart of the server's instances; one that does not come up is crashed and waits for a change.
  private async restart(server: string, instances: Managed[], change: Change, after?: string): Promise<void> {
    const target = this.targets.get(server)
    if (target) target.startedAt = Date.now()
    // After a task's run: what it wrote into this server's folders is in the processes started now.
    if (target && after) this.snapshot(target)
    this.live.events.emit({ kind: 'watch', action: 'restart', id: server, ...change, after })
    const trigger = describeChange(change)
    for (const m of instances) m.record.watchTrigger = trigger
    try {
      await rollingRestart(this.live, instances)
    } catch (error) {
      const failed = instances.find((m) => m.record.state !== 'running')
      if (failed) await this.giveUp(failed, error)
      else throw error
    }
  }

  // Marked crashed once its exit is in (before, the exit would apply its restart policy to a crashed state).
  private async giveUp(m: Managed, error: unknown): Promise<void> {
    const child = m.child
    if (child && child.exitCode === null && child.signalCode === null)
      await new Promise((resolve) => child.once('exit', () => setImmediate(resolve)))
    const why = m.record.lastExit ?? (error instanceof Error ? error.message.split('\n')[0] : String(error))
    m.record.state = 'crashed'
    m.record.lastExit = why
    this.live.save()
    this.live.events.emit({ kind: 'crash', id: m.spec.id, reason: why })
  }

  private async runTask(t: Target, m: Managed, change: Change): Promise<void> {
    t.startedAt = Date.now()
    t.running = true
    this.live.events.emit({ kind: 'watch', action: 'run', id: t.server, ...change })
    m.record.watchTrigger = describeChange(change)
    let ok = false
    try {
      await this.live.restartInstance(m)
      ok = true
    } catch (error) {
      this.log(`${t.server}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
    } finally {
      t.running = false
      this.snapshot(t)
    }
    if (!ok) return
    for (const server of m.spec.thenRestart ?? []) {
      const instances = this.live.instances(server).filter((i) => i.record.state !== 'paused')
      if (instances.length) await this.restart(server, instances, change, t.server)
    }
  }

  private snapshot(t: Target): void {
    for (const file of t.files.files()) t.seen.set(file, contentHash(file))
  }

  // A task remembers every file's content from run to run; a server only checks what a snapshot left, once.
  private unchanged(t: Target, file: string, task: boolean): boolean {
    const hash = contentHash(file)
    const before = t.seen.get(file)
    if (task) t.seen.set(file, hash)
    else t.seen.delete(file)
    return before === hash
  }

  private isTaskTarget(t: Target): boolean {
    const first = this.live.instances(t.server)[0]
    return first?.spec.task === true
  }
}

interface Change {
  file: string
  more: number
}

const describeChange = (c: Change) => `${c.file}${c.more ? ` and ${c.more} more` : ''}`

// Files past this size are known by size and modification time: a change to one is read whole otherwise.
const HASH_LIMIT = 8 << 20

function contentHash(file: string): string {
  try {
    const stat = fs.statSync(file)
    if (stat.size > HASH_LIMIT) return `${stat.size} bytes, modified ${stat.mtimeMs}`
    return createHash('sha1').update(fs.readFileSync(file)).digest('hex')
  } catch {
    return 'absent'
  }
}

// Watches the stack's servers as its plan says, from now until close (the plan changing meanwhile is followed).
export async function watchStack(live: LiveStack, home: Home, log: (line: string) => void): Promise<StackWatcher> {
  const watcher = new StackWatcher(live, home, log)
  await watcher.sync()
  live.onPlan = () => void watcher.sync().catch((error) => log(`watch: ${(error as Error).message}`))
  // Nothing restarts once the stack is stopping or handed over.
  live.keepWatching({ stop: () => void watcher.close() })
  return watcher
}
