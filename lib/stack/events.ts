// What the supervisor does and sees (spawn, ready, exit, restart, crash, reload, pause, scale, health), as typed events:
// each said once, as a `supervisor` line of the unified log, and kept in a bounded ring for the event stream.

// Every event has the process it is about (`api-1`, `nginx`; for scale the server) and when it happened (ms).
interface Base {
  id: string
  time: number
}

export type SupervisorEvent = Base &
  (
    | { kind: 'spawn'; pid: number; port?: number }
    | { kind: 'adopt'; pid: number; port?: number; paused?: boolean }
    | { kind: 'ready'; pid: number; port?: number; ms: number; detail: string }
    // code and signal are both absent when the exit status is unknown (a process this supervisor did not start).
    | { kind: 'exit'; pid: number; code?: number; signal?: string; reason: string }
    | { kind: 'restart'; delayMs: number; attempt: number; maxRestarts: number; reason: string }
    | { kind: 'crash'; reason: string }
    | { kind: 'reload'; pid: number; reason: string }
    | { kind: 'pause'; pid: number }
    | { kind: 'resume'; pid: number }
    | { kind: 'scale'; from: number; to: number }
    // A task (kind: task) ran to its end: completed (exit 0) or failed.
    | { kind: 'task'; pid: number; ok: boolean; code?: number; reason: string }
    // on_failure: stop-all, and this process failed for good: the whole stack stops.
    | { kind: 'stop-all'; reason: string }
    // A check after ready failed: `failures` in a row of the `retries` that restart it.
    | { kind: 'unhealthy'; pid: number; failures: number; retries: number; detail: string }
    | { kind: 'healthy'; pid: number; detail: string }
    // Restarted (or stopped, with restart: no) by the supervisor for its health or its memory.
    | { kind: 'recycle'; pid: number; reason: string; action: 'restart' | 'stop' }
    // start --watch: a server restarted (a task run again) because files changed (`more` besides `file`), or after
    // the run of task `after`; or a crashed one left waiting for the next change.
    | { kind: 'watch'; action: 'restart' | 'run' | 'wait'; file?: string; more?: number; after?: string }
  )

export type EventKind = SupervisorEvent['kind']

// An event as emitted: the log stamps its time.
export type NewEvent = SupervisorEvent extends infer E ? (E extends unknown ? Omit<E, 'time'> : never) : never

const at = (port?: number) => (port === undefined ? '' : ` port ${port}`)

// The event's line in the unified log, after the `supervisor` prefix: the process first, so `grep api-1` finds it.
export function describeEvent(e: SupervisorEvent): string {
  switch (e.kind) {
    case 'spawn':
      return `${e.id} spawned pid ${e.pid}${at(e.port)}`
    case 'adopt':
      return `${e.id} adopted pid ${e.pid}${at(e.port)} (${e.paused ? 'paused, left paused' : 'already running'})`
    case 'ready':
      return `${e.id} ready pid ${e.pid}${at(e.port)} in ${e.ms} ms (${e.detail})`
    case 'exit':
      return `${e.id} pid ${e.pid} ${e.reason}`
    case 'restart':
      return `${e.id} restarting in ${e.delayMs} ms (restart ${e.attempt} of at most ${e.maxRestarts} in a row)`
    case 'crash':
      return `${e.id} crashed: ${e.reason}`
    case 'reload':
      return `${e.id} reloaded pid ${e.pid} (${e.reason})`
    case 'pause':
      return `${e.id} paused pid ${e.pid} (SIGSTOP)`
    case 'resume':
      return `${e.id} resumed pid ${e.pid} (SIGCONT)`
    case 'scale':
      return `${e.id} scaled from ${e.from} to ${e.to} instance${e.to === 1 ? '' : 's'}`
    case 'task':
      return `${e.id} ${e.ok ? 'completed' : 'failed'} (task ${e.reason})`
    case 'stop-all':
      return `${e.id} failed for good (${e.reason}); stopping the whole stack (on_failure: stop-all)`
    case 'unhealthy':
      return `${e.id} unhealthy pid ${e.pid}: ${e.detail} (${e.failures} of ${e.retries} checks failed in a row)`
    case 'healthy':
      return `${e.id} healthy again pid ${e.pid} (${e.detail})`
    case 'recycle':
      return `${e.id} ${e.action === 'restart' ? 'restarting' : 'stopping (restart: no)'} pid ${e.pid}: ${e.reason}`
    case 'watch':
      return describeWatch(e)
  }
}

function describeWatch(e: Extract<SupervisorEvent, { kind: 'watch' }>): string {
  if (e.action === 'wait') return `${e.id} waiting for a change to start again`
  const changed = `${e.file}${e.more ? ` and ${e.more} more` : ''} changed`
  if (e.after) return `${e.id} restarting: ${e.after} ran again (${changed})`
  return `${e.id} ${e.action === 'run' ? 'running again' : 'restarting'}: ${changed}`
}

// The last this many events are kept for a client that connects to the event stream late.
export const EVENT_RING_SIZE = 500

export type EventListener = (event: SupervisorEvent) => void

export class EventLog {
  private readonly ring: SupervisorEvent[] = []
  private readonly listeners = new Set<EventListener>()

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly size = EVENT_RING_SIZE,
    // Told when a listener throws; the supervisor and the other listeners carry on.
    private readonly report: (line: string) => void = () => {},
  ) {}

  // Stamps the event, keeps it and tells every listener, in the order they subscribed.
  emit(input: NewEvent): SupervisorEvent {
    const event = { ...input, time: this.clock() } as SupervisorEvent
    this.ring.push(event)
    if (this.ring.length > this.size) this.ring.splice(0, this.ring.length - this.size)
    for (const listener of [...this.listeners]) {
      try {
        listener(event)
      } catch (error) {
        this.report(`event listener failed on "${describeEvent(event)}": ${(error as Error).message}`)
      }
    }
    return event
  }

  // The kept events, oldest first.
  recent(): SupervisorEvent[] {
    return [...this.ring]
  }

  // Every event from now on; returns the function that ends the subscription.
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }
}
