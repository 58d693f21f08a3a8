// depends_on: every name a known other server, and no cycle (reported once, as the path that closes it).
import type { Config } from './types.ts'
import { didYouMean, type Problem } from './schema.ts'

export function dependencyProblems({ servers }: Config): Problem[] {
  const out: Problem[] = []
  const byName = new Map(servers.map((s) => [s.name, s]))
  const known = [...byName.keys()]
  servers.forEach((s, i) =>
    s.depends_on.forEach((d, k) => {
      const path = `servers[${i}].depends_on[${k}]`
      if (d === s.name)
        out.push({ path, message: `"${s.name}" depends on itself, expected the name of another server` })
      else if (!byName.has(d))
        out.push({
          path,
          message: `unknown server ${JSON.stringify(d)}${didYouMean(d, known)}, expected one of ${known.join(', ')}`,
        })
    }),
  )
  if (out.length > 0) return out
  // Depth-first search; a grey node met again closes a cycle.
  const colour = new Map<string, 'grey' | 'black'>()
  const visit = (name: string, trail: string[]): string[] | undefined => {
    if (colour.get(name) === 'black') return undefined
    if (colour.get(name) === 'grey') return [...trail.slice(trail.indexOf(name)), name]
    colour.set(name, 'grey')
    for (const d of byName.get(name)!.depends_on) {
      const cycle = visit(d, [...trail, name])
      if (cycle) return cycle
    }
    colour.set(name, 'black')
    return undefined
  }
  for (const [i, s] of servers.entries()) {
    const cycle = visit(s.name, [])
    if (cycle)
      return [
        {
          path: `servers[${i}].depends_on`,
          message: `dependency cycle ${cycle.map((n) => `"${n}"`).join(' -> ')}, expected dependencies without a cycle`,
        },
      ]
  }
  return out
}
