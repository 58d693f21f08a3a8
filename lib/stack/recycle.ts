// An instance the supervisor restarts on its own (failing health checks, memory over max_memory): under its restart
// policy (restart: no stops it), one change at a time with the stack's commands, drained first when another serves.
import type { LiveStack } from './live.ts'
import { rollingRestart } from './rolling.ts'
import type { Managed } from './supervision.ts'

// Resolves once done; a failure is said, not thrown (nobody waits on it but the watcher).
export function recycle(live: LiveStack, m: Managed, reason: string, log: (line: string) => void): Promise<void> {
  const pid = m.record.pid
  return live
    .exclusive(async () => {
      // A command (restart, stop, scale down, pause) may have dealt with it while this waited its turn.
      if (m.record.pid !== pid || m.record.state !== 'running' || m.retiring) return
      const action = m.spec.restart === 'no' ? 'stop' : 'restart'
      live.events.emit({ kind: 'recycle', id: m.spec.id, pid, reason, action })
      m.record.restartReason = reason
      if (action === 'stop') {
        await live.stopInstance(m, false)
        Object.assign(m.record, { state: 'crashed', lastExit: `stopped by the supervisor: ${reason}` })
        return live.save()
      }
      m.record.restarts++
      // One that does not become ready again is killed and left stopped, as a rolling restart leaves it.
      await rollingRestart(live, [m]).finally(() => live.save())
    })
    .catch((error: Error) => log(`${m.spec.id}: ${reason}; ${error.message}`))
}
