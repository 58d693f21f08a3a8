// Tasks (kind: task): processes that run to completion. Their dependents start once they exited 0; a failure fails
// the start. They are never restarted; `status` shows them completed or failed, with the exit code.
import { sleep } from '../core/sleep.ts'
import type { ProcessRecord } from '../os/process-record.ts'
import type { NewEvent } from './events.ts'

const TASK_POLL_MS = 20

export interface TaskResult {
  ok: boolean
  detail: string
}

// How a task's exit is recorded (completed on code 0, failed otherwise), and the event that says so.
export function endTask(record: ProcessRecord, reason: string, code?: number): NewEvent {
  const ok = code === 0
  record.state = ok ? 'completed' : 'failed'
  record.exitCode = code
  record.lastExit = reason
  return { kind: 'task', id: record.id, pid: record.pid, ok, code, reason }
}

// Until the task has ended (its record says how), its time limit (ready_timeout) passed, or the wait is aborted.
export async function untilTaskEnds(
  record: ProcessRecord,
  timeoutMs: number,
  aborted: () => string | undefined,
): Promise<TaskResult> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (record.state === 'completed') return { ok: true, detail: `task completed: ${record.lastExit}` }
    if (record.state === 'failed') return { ok: false, detail: record.lastExit ?? 'failed' }
    const why = aborted()
    if (why) return { ok: false, detail: why }
    if (Date.now() > deadline)
      return { ok: false, detail: `still running after ${timeoutMs / 1000} s (ready_timeout), expected it to exit` }
    await sleep(TASK_POLL_MS)
  }
}

// A task an earlier supervisor saw complete is not run again by the next one (a takeover, restart --only).
export const completedBefore = (old: ProcessRecord | undefined): old is ProcessRecord => old?.state === 'completed'
