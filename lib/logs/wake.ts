// When the unified log reads its files: as soon as one of them changes (a file-change notification), again soon
// while it is behind, and every SAFETY_POLL_MS anyway (for a change the system did not report, as on some network
// file systems). An idle stack wakes its supervisor about once per SAFETY_POLL_MS, not many times a second.
import path from 'node:path'
import { watchFolder, type FolderWatch } from '../os/watch.ts'

// What the last read left: nothing, more than one read takes (a burst), or a stderr line waiting for its stdout line.
export type NextRead = 'idle' | 'soon' | 'shortly'

export const SAFETY_POLL_MS = 2000
// The least time between two reads while a burst goes on: its first line is read at once, the rest in batches.
const SOON_MS = 10
const SHORTLY_MS = 100
// Where the system gives no notifications: the files are polled as often as before notifications were used.
const UNWATCHED_POLL_MS = 50

export class ReadOnChange {
  // Per folder: the watch, and the names of the files in it that are read.
  private readonly folders = new Map<string, { names: Set<string>; watch?: FolderWatch }>()
  private readonly safety: NodeJS.Timeout
  private next?: { timer: NodeJS.Timeout; at: number }
  private last = 0
  private closed = false

  constructor(
    private readonly read: () => NextRead,
    safetyMs = SAFETY_POLL_MS,
  ) {
    this.safety = setInterval(() => {
      this.rewatch()
      this.run()
    }, safetyMs)
    this.schedule(0)
  }

  // Files to read when they change (their folders are watched from now on).
  add(...files: (string | undefined)[]): void {
    for (const file of files) {
      if (file === undefined) continue
      const dir = path.dirname(file)
      const folder = this.folders.get(dir) ?? { names: new Set<string>() }
      folder.names.add(path.basename(file))
      this.folders.set(dir, folder)
    }
    this.rewatch()
  }

  close(): void {
    this.closed = true
    clearInterval(this.safety)
    if (this.next) clearTimeout(this.next.timer)
    this.next = undefined
    for (const folder of this.folders.values()) folder.watch?.close()
  }

  // Watches every folder that is not watched (yet, or any more: removed and made again).
  private rewatch(): void {
    for (const [dir, folder] of this.folders) {
      if (folder.watch?.alive) continue
      folder.watch?.close()
      folder.watch = watchFolder(
        dir,
        (name) => folder.names.has(name),
        () => this.schedule(SOON_MS),
      )
    }
  }

  private get unwatched(): boolean {
    return [...this.folders.values()].some((f) => !f.watch)
  }

  // A read at `gap` after the last one (at once when the last one is older), unless one is due sooner.
  private schedule(gap: number): void {
    if (this.closed) return
    const at = Math.max(Date.now(), this.last + gap)
    if (this.next && this.next.at <= at) return
    if (this.next) clearTimeout(this.next.timer)
    this.next = { timer: setTimeout(() => this.run(), at - Date.now()), at }
  }

  private run(): void {
    if (this.closed) return
    if (this.next) clearTimeout(this.next.timer)
    this.next = undefined
    this.last = Date.now()
    const next = this.read()
    if (next === 'soon') this.schedule(SOON_MS)
    else if (next === 'shortly') this.schedule(SHORTLY_MS)
    else if (this.unwatched) this.schedule(UNWATCHED_POLL_MS)
  }
}
