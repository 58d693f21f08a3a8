// start --foreground: the terminal shows the run's unified log and a Ctrl+C there stops everything.
import type { Home } from '../core/home.ts'
import { FileFollower, FollowSet } from '../logs/follow.ts'
import { fileSize, generationPath, unifiedLogPath } from '../logs/paths.ts'
import { ReadOnChange } from '../logs/wake.ts'

export interface TerminalLog {
  // From now on, every new line of the unified log is shown.
  show(): void
  // Shows the last lines (the servers' last words while they shut down) and stops reading.
  close(): void
}

// The unified log from where the file ends now, as foreman shows its processes' output.
export function followUnified(home: Home, write: (lines: string[]) => void): TerminalLog {
  const unified = new FollowSet(
    home,
    [new FileFollower(unifiedLogPath(home), fileSize(unifiedLogPath(home)))],
    (_file, lines) => write(lines),
  )
  let tail: ReadOnChange | undefined
  return {
    show() {
      // Read when the unified log (or the truncation count) changes, not on a timer.
      tail = new ReadOnChange(() => (unified.tick() ? 'soon' : 'idle'))
      tail.add(unifiedLogPath(home))
      tail.add(generationPath(home))
    },
    close() {
      tail?.close()
      unified.tick()
      for (const follower of unified.followers) follower.close()
    },
  }
}

// Listening before the bring-up's own handlers go, and until this process ends: with no listener, a Ctrl+C would kill
// it outright and leave the stack running unwatched. A repeated signal changes nothing: the stop runs once.
export function stopRequested(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.on('SIGINT', () => resolve())
    process.on('SIGTERM', () => resolve())
  })
}
