// on_failure: what a process that failed for good (no restart left, or a failed task) does to the rest of the stack.
import type { Plan } from '../config/plan.ts'
import { describeEvent, type EventLog, type NewEvent, type SupervisorEvent } from './events.ts'

// Under stop-all, after a crash (restarts used up, or restart: no) or a failed task: the event saying the whole
// stack stops, and the same words for a start it fails; else undefined.
export function stopAllFor(plan: Plan, e: SupervisorEvent): { event: NewEvent; words: string } | undefined {
  if (plan.onFailure !== 'stop-all' || !(e.kind === 'crash' || (e.kind === 'task' && !e.ok))) return undefined
  const event = { kind: 'stop-all', id: e.id, reason: e.reason } as const
  return { event, words: describeEvent({ ...event, time: Date.now() }) }
}

// For a --foreground run: resolves with the event's words once the stack says it stops everything.
export function stopAllSaid(events: EventLog): Promise<string> {
  return new Promise((resolve) => events.subscribe((e) => e.kind === 'stop-all' && resolve(describeEvent(e))))
}
