// on_failure: what a process that failed for good (no restart left, or a failed task) does to the rest of the stack.
import type { Plan } from '../config/plan.ts'
import type { ProcessRecord } from '../os/process-record.ts'
import { describeEvent, type NewEvent } from './events.ts'

// Under stop-all: the event saying the whole stack stops, and the same words for a start it fails; else undefined.
export function stopAllFor(plan: Plan, record: ProcessRecord): { event: NewEvent; words: string } | undefined {
  if (plan.onFailure !== 'stop-all') return undefined
  const event = { kind: 'stop-all', id: record.id, reason: record.lastExit ?? 'failed' } as const
  return { event, words: describeEvent({ ...event, time: Date.now() }) }
}
