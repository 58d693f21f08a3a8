// Watching files for changes: chokidar on each folder a `watch:` entry names (inotify on Linux, no polling, so an
// idle watch costs nothing), changes to the files the entries match told one by one; and a debouncer to batch them.
import fs from 'node:fs'
import path from 'node:path'
import { watch } from 'chokidar'
import { pathMatcher, watchRoots } from './globs.ts'

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
  const watcher = watch(watchRoots(opts.root, opts.paths), {
    ignoreInitial: true,
    persistent: false,
    // A folder is pruned whole; a file only when no entry wants it (a folder may hold wanted files below it).
    ignored: (file, stats) => matcher.ignored(file) || (stats?.isFile() === true && !matcher.matches(file)),
  })
  watcher.on('all', (event, file) => {
    if ((event === 'add' || event === 'change' || event === 'unlink') && matcher.matches(file))
      opts.onChange(file, Date.now())
  })
  watcher.on('error', (error) => opts.onError?.(error instanceof Error ? error.message : String(error)))
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()))
  const roots = watchRoots(opts.root, opts.paths)
  return { ready, files: () => listFiles(roots, matcher), close: () => watcher.close() }
}

function listFiles(roots: string[], matcher: ReturnType<typeof pathMatcher>): string[] {
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
