// Which files a `watch:` entry means: globs relative to a root folder (`**` crosses folders, `*` and `?` do not,
// `{a,b}` and `[abc]` as in a shell), each also covering everything below what it names; ignores without a `/`
// match a file or folder name anywhere (`node_modules`, `*.pyc`), the others a path from the root.
import path from 'node:path'

// Ignored wherever they are: version control, installed packages, Python's bytecode.
export const DEFAULT_IGNORES = ['.git', 'node_modules', '__pycache__']

const GLOB_CHARS = /[*?[\]{}]/

// A glob as a regular expression source for one path written with `/` (no anchors).
function globSource(glob: string): string {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` is any number of folders (none too); a `**` elsewhere is anything, `/` included.
      const slash = glob[i + 2] === '/'
      out += slash ? '(?:[^/]*/)*' : '.*'
      i += slash ? 2 : 1
    } else if (c === '*') out += '[^/]*'
    else if (c === '?') out += '[^/]'
    else if (c === '{') {
      const end = glob.indexOf('}', i)
      if (end < 0) out += '\\{'
      else {
        out += `(?:${glob
          .slice(i + 1, end)
          .split(',')
          .map(globSource)
          .join('|')})`
        i = end
      }
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1)
      if (end < 0) out += '\\['
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\')
        out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`
        i = end
      }
    } else out += c.replace(/[.+^$()|\\\]}]/g, '\\$&')
  }
  return out
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// A path with `/` separators and no `./` or trailing `/`, resolved against the root when relative.
function absolute(root: string, entry: string): string {
  return path.resolve(root, entry).split(path.sep).join('/')
}

// The folder or file to watch for one entry: its part before the first segment with a glob character.
export function watchRoot(root: string, entry: string): string {
  const segments = absolute(root, entry).split('/')
  const first = segments.findIndex((s) => GLOB_CHARS.test(s))
  const fixed = first < 0 ? segments : segments.slice(0, first)
  return fixed.join('/') || '/'
}

// Every folder or file to watch, without one that lies inside another.
export function watchRoots(root: string, entries: string[]): string[] {
  const all = [...new Set(entries.map((e) => watchRoot(root, e)))].sort()
  return all.filter((r) => !all.some((o) => o !== r && (o === '/' || r.startsWith(`${o}/`))))
}

export interface PathMatcher {
  // A file that a change of restarts or reruns (wanted and not ignored).
  matches(file: string): boolean
  // A file or folder left out, with everything below it.
  ignored(file: string): boolean
}

// The paths of `watch:` and their ignores (the defaults and `also`, absolute folders such as the stack's home, added).
export function pathMatcher(root: string, paths: string[], ignore: string[], also: string[] = []): PathMatcher {
  // The entry itself, or anything below it.
  const anchored = (entry: string) => `^${globSource(absolute(root, entry))}(?:/.*)?$`
  const wanted = new RegExp(paths.map(anchored).join('|') || '(?!)')
  const anywhere = (name: string) => `(?:^|/)${globSource(name)}(?:/|$)`
  const skipped = [...DEFAULT_IGNORES, ...ignore].map((i) => (i.includes('/') ? anchored(i) : anywhere(i)))
  const outside = also.map((dir) => `^${literal(absolute(root, dir))}(?:/.*)?$`)
  const unwanted = new RegExp([...skipped, ...outside].join('|') || '(?!)')
  const slashed = (file: string) => file.split(path.sep).join('/')
  return {
    matches: (file) => wanted.test(slashed(file)) && !unwanted.test(slashed(file)),
    ignored: (file) => unwanted.test(slashed(file)),
  }
}

// A changed file as the log and `status` name it: relative to the root when it lies below it.
export function shownPath(root: string, file: string): string {
  const rel = path.relative(root, file)
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file
}
