// What watches a stack once it is up, in the detached supervisor and in --foreground: health checks after ready
// and memory limits; both stop with the stack.
import type { LiveStack } from './live.ts'
import { watchHealth } from './health-watch.ts'
import { watchMemory } from './memory-watch.ts'

export function watchRunning(live: LiveStack, env: NodeJS.ProcessEnv, log: (line: string) => void): void {
  live.keepWatching(watchHealth(live, env, log), watchMemory(live, log))
}
