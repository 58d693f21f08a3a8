// The small JSON files of ours under the home (state, lock, offsets, requests, caches): written atomically,
// read back as undefined when missing, torn or not an object.
import fs from 'node:fs'
import path from 'node:path'
import { DIR_MODE, writeFileAtomic } from './safe-files.ts'

// 0600 whatever the umask (the plan holds the servers' environment, secrets included), never through a link.
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: DIR_MODE })
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n')
}

// A small JSON file of ours (lock, offsets, requests, caches): undefined when missing, torn or not an object.
export function readJsonFile(file: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
