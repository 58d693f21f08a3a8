// File-change notifications for the files of a few folders (inotify on Linux, FSEvents or kqueue elsewhere, all
// through fs.watch), so a reader wakes when something was written instead of looking many times a second.
import fs from 'node:fs'
import path from 'node:path'

export interface FolderWatch {
  // False once the folder can no longer be watched (removed, replaced, or the system stopped telling): watch again.
  readonly alive: boolean
  close(): void
}

// Calls `changed` (with the file's name, or undefined when the system does not say which) whenever a file in `dir`
// that `wanted` accepts is written, created, truncated, renamed or removed; undefined where the system cannot watch
// (no support, or out of watches): the caller then has to poll.
// `gone` is told once the watch has failed (the folder removed, as a rule).
export function watchFolder(
  dir: string,
  wanted: (name: string) => boolean,
  changed: (name: string | undefined) => void,
  gone?: () => void,
): FolderWatch | undefined {
  let ino: number
  let watcher: fs.FSWatcher
  try {
    ino = fs.statSync(dir).ino
    watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
      const file = name === null ? undefined : path.basename(String(name))
      if (file === undefined || wanted(file)) changed(file)
    })
  } catch {
    return undefined
  }
  let failed = false
  watcher.on('error', () => {
    failed = true
    watcher.close()
    gone?.()
  })
  return {
    // A folder removed or replaced (same path, new inode) is no longer the one watched.
    get alive() {
      return !failed && fs.statSync(dir, { throwIfNoEntry: false })?.ino === ino
    },
    close: () => watcher.close(),
  }
}
