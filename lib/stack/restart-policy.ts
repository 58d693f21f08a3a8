// The restart policy: what follows an exit (nothing, a restart after a doubling backoff, or crashed for good).
import type { RestartPolicy } from '../config/types.ts'

// A process that stayed up this long counts as stable: its next crash starts the backoff over.
export const STABLE_AFTER_MS = 10_000
export const FIRST_BACKOFF_MS = 100
export const MAX_BACKOFF_MS = 10_000

export interface ExitFacts {
  policy: RestartPolicy
  maxRestarts: number
  // Why it exited, in words ("exited with code 1", "killed by SIGKILL").
  reason: string
  uptimeMs: number
  // Restarts in a row so far without the process becoming stable.
  unstable: number
}

export type ExitDecision =
  | { state: 'stopped' | 'crashed'; lastExit: string; unstable: number }
  | { state: 'restarting'; lastExit: string; unstable: number; delayMs: number }

const CLEAN_EXIT = 'exited with code 0'

// What the supervisor does when a running process exits: nothing more, or a restart after a backoff
// that doubles with every quick failure in a row, until max_restarts marks it crashed.
export function decideAfterExit(facts: ExitFacts): ExitDecision {
  const unstable = facts.uptimeMs > STABLE_AFTER_MS ? 0 : facts.unstable
  if (facts.policy === 'no' || (facts.policy === 'on-failure' && facts.reason === CLEAN_EXIT))
    return { state: facts.reason === CLEAN_EXIT ? 'stopped' : 'crashed', lastExit: facts.reason, unstable }
  if (unstable >= facts.maxRestarts) {
    const times = `${unstable} restart${unstable === 1 ? '' : 's'}`
    return {
      state: 'crashed',
      lastExit: `${facts.reason}; gave up after ${times} (max_restarts ${facts.maxRestarts})`,
      unstable,
    }
  }
  return {
    state: 'restarting',
    lastExit: facts.reason,
    unstable: unstable + 1,
    delayMs: Math.min(FIRST_BACKOFF_MS * 2 ** unstable, MAX_BACKOFF_MS),
  }
}
