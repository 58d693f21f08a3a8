// The checks of `watch:` and `then_restart` (their shape is schema.ts's).
import type { Config } from './types.ts'
import { didYouMean, type Problem } from './schema.ts'

const at = (i: number, key?: string) => `servers[${i}]${key ? `.${key}` : ''}`
const quoted = (value: string) => JSON.stringify(value)

// `watch:` names at least one path; `then_restart` names other servers, after the runs a watch makes.
export function watching({ servers }: Config): Problem[] {
  const out: Problem[] = []
  const known = servers.map((s) => s.name)
  servers.forEach((s, i) => {
    if (s.watch && s.watch.paths.length === 0)
      out.push({
        path: at(i, 'watch'),
        message: `no path to watch, expected a list of paths or globs relative to the config file, like [src]`,
      })
    if (s.then_restart && !s.watch)
      out.push({
        path: at(i, 'then_restart'),
        message: `"${s.name}" has no watch, expected watch: too (servers are restarted after a run on a change)`,
      })
    s.then_restart?.forEach((name, k) => {
      const target = servers.find((o) => o.name === name)
      const wrong =
        name === s.name
          ? `"${name}" is this server itself, expected another server`
          : !target
            ? `no server named ${quoted(name)}${didYouMean(name, known)}, expected one of ${known.join(', ')}`
            : target.kind === 'task'
              ? `"${name}" is a task, expected a server (a task runs again on a change by its own watch)`
              : undefined
      if (wrong) out.push({ path: at(i, `then_restart[${k}]`), message: wrong })
    })
  })
  return out
}
