// Watching files for changes: fs.watch on each folder below what a `watch:` entry names (inotify on Linux, no polling,
// so an idle watch costs nothing), changes to the files the entries match told one by one; a debouncer to batch them.
import fs from 'node:fs'
import path from 'node:path'
import { pathMatcher, watchRoots, type PathMatcher } from './globs.ts'
import { watchFolder, type FolderWatch } from './watch.ts'

export interface FileWatchOptions {
  // The folder the entries are relative to (the config's).
  root: string
  paths: string[]
  ignore: string[]
  // Folders left out besides the ignores (the stack's home, where its logs change all the time).
  exclude?: string[]
  // A file the entries match was added, changed or removed, at this time (ms).
  onChange: (file: string, at: number) => void
  onError?: (message: string) => void
}

export interface FileWatcher {
  // Resolves once every folder is watched: changes from then on are told.
  ready: Promise<void>
  // Every file the entries match now (read from disk, at most LIST_LIMIT).
  files(): string[]
  close(): Promise<void>
}

// A listing stops here: a folder that large is a mistake in the entries (a missing ignore), not something to read.
export const LIST_LIMIT = 10_000

export function watchFiles(opts: FileWatchOptions): FileWatcher {
  const matcher = pathMatcher(opts.root, opts.paths, opts.ignore, opts.exclude)
  const roots = watchRoots(opts.root, opts.paths)
  const folders = new FolderWatches(roots, matcher, (file) => opts.onChange(file, Date.now()), opts.onError)
  for (const root of roots) folders.watchRoot(root)
  return {
    ready: Promise.resolve(),
    files: () => listFiles(roots, matcher),
    close: async () => folders.close(),
  }
}

// One fs.watch per folder (inotify tells a folder's watch about every file in it): a few handles per tree rather than
// one per file. A folder created (or moved in) later is watched as it appears, and the files in it are told.
class FolderWatches {
  private readonly watches = new Map<string, FolderWatch>()
  private closed = false

  constructor(
    private readonly roots: string[],
    private readonly matcher: PathMatcher,
    private readonly changed: (file: string) => void,
    private readonly onError?: (message: string) => void,
  ) {}

  // A folder root is watched with all below it; a file root, or one not there yet, by a watch on its parent.
  watchRoot(root: string): void {
    if (isFolder(root)) return this.watch(root, false)
    const parent = path.dirname(root)
    if (isFolder(parent)) this.watch(parent, false, true)
  }

  close(): void {
    this.closed = true
    for (const w of this.watches.values()) w.close()
    this.watches.clear()
  }

  private inRoot = (file: string) => this.roots.some((r) => file === r || file.startsWith(`${r}/`))

  // `fresh`: the folder just appeared, so its files are new; `shallow`: the parent of a root, not descended into.
  private watch(dir: string, fresh: boolean, shallow = false): void {
    if (this.closed || this.watches.has(dir) || this.matcher.ignored(dir)) return
    // Gone (the folder was removed): its parent's watch says so.
    const watch = watchFolder(
      dir,
      () => true,
      (name) => name !== undefined && this.event(dir, name),
      () => this.unwatch(dir),
    )
    if (!watch) return this.onError?.(`cannot watch ${dir}: no notifications for it here (or out of inotify watches)`)
    this.watches.set(dir, watch)
    if (shallow) return
    let entries: fs.Dirent[] = []
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      // Removed meanwhile.
    }
    for (const e of entries) {
      const file = path.join(dir, e.name)
      if (e.isDirectory()) this.watch(file, fresh)
      else if (fresh && this.matcher.matches(file)) this.changed(file)
    }
  }

  private event(dir: string, name: string): void {
    const file = path.join(dir, name)
    if (this.closed || this.matcher.ignored(file)) return
    if (isFolder(file)) {
      if (this.inRoot(file)) this.watch(file, true)
      return
    }
    if (this.watches.has(file)) this.unwatch(file)
    if (this.matcher.matches(file)) this.changed(file)
  }

  // A removed folder: its watch and every watch below it.
  private unwatch(dir: string): void {
    for (const [d, w] of this.watches)
      if (d === dir || d.startsWith(`${dir}/`)) {
        w.close()
        this.watches.delete(d)
      }
  }
}

const isFolder = (file: string) => fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() === true

function listFiles(roots: string[], matcher: PathMatcher): string[] {
  const out: string[] = []
  const visit = (file: string) => {
    if (out.length >= LIST_LIMIT || matcher.ignored(file)) return
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(file, { withFileTypes: true })
    } catch (error) {
      // A file (not a folder), or gone meanwhile.
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR' && matcher.matches(file)) out.push(file)
      return
    }
    for (const e of entries) {
      const child = path.join(file, e.name)
      if (e.isDirectory()) visit(child)
      else if (e.isFile() && matcher.matches(child) && out.length < LIST_LIMIT) out.push(child)
    }
  }
  for (const root of roots) visit(root)
  return out
}

export interface Timers {
  now(): number
  set(fn: () => void, ms: number): unknown
  clear(timer: unknown): void
}

const realTimers: Timers = {
  now: () => Date.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
}

// Collects items until none came for `ms`, then hands them over at once, with the time the last one came.
export class Debouncer<T> {
  private readonly items = new Set<T>()
  private timer: unknown
  private lastAt = 0

  constructor(
    private readonly ms: number,
    private readonly fire: (items: T[], lastAt: number) => void,
    private readonly timers: Timers = realTimers,
  ) {}

  add(item: T, at = this.timers.now()): void {
    this.items.add(item)
    this.lastAt = Math.max(this.lastAt, at)
    if (this.timer !== undefined) this.timers.clear(this.timer)
    this.timer = this.timers.set(() => this.flush(), this.ms)
  }

  flush(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer)
    this.timer = undefined
    if (this.items.size === 0) return
    const items = [...this.items]
    this.items.clear()
    this.fire(items, this.lastAt)
  }

  close(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer)
    this.timer = undefined
    this.items.clear()
  }
}
