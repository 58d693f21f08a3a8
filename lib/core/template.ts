// A deliberately tiny template engine for generated config files: `{{name}}` placeholders only.
// Anything with structure (lists of upstreams, locations) is rendered in code and passed in as a
// finished block, so the template stays plain config text a reader can diff against the output.
import fs from 'node:fs'
import path from 'node:path'
import { packageRoot } from './home.ts'

const PLACEHOLDER = /\{\{([a-z_][a-z0-9_]*)\}\}/g

// A placeholder alone on its line takes a multi-line block; every block line gets that line's indent.
const BLOCK_LINE = /^([ \t]*)\{\{([a-z_][a-z0-9_]*)\}\}[ \t]*$/

function lookup(values: Record<string, string>, name: string, used: Set<string>): string {
  if (!Object.hasOwn(values, name)) throw new Error(`template: no value for {{${name}}}`)
  used.add(name)
  return values[name]
}

// Fill every placeholder; a missing value or an unused one is a programming error, so it throws.
export function fillTemplate(template: string, values: Record<string, string>): string {
  const used = new Set<string>()
  const lines = template.split('\n').flatMap((line) => {
    const block = BLOCK_LINE.exec(line)
    if (block) {
      const [, indent, name] = block
      const text = lookup(values, name, used)
      // An empty block removes its line entirely rather than leaving a blank one behind.
      if (text === '') return []
      return text.split('\n').map((l) => (l === '' ? '' : indent + l))
    }
    return [line.replace(PLACEHOLDER, (_, name: string) => lookup(values, name, used))]
  })
  const unused = Object.keys(values).filter((k) => !used.has(k))
  if (unused.length > 0) throw new Error(`template: values never used: ${unused.join(', ')}`)
  return lines.join('\n')
}

// For building blocks in code: nest lines one level deeper, as nginx and YAML readers expect.
export function indentLines(lines: string[], by = '    '): string[] {
  return lines.map((line) => (line === '' ? '' : by + line))
}

const cache = new Map<string, string>()

// Bundled templates are read once per process; they ship with the package and never change under it.
export function loadTemplate(name: string): string {
  let text = cache.get(name)
  if (text === undefined) {
    text = fs.readFileSync(path.join(packageRoot, 'templates', name), 'utf8')
    cache.set(name, text)
  }
  return text
}
