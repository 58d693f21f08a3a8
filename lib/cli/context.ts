// What a command runs with (home, env, working folder, streams) and the flag and output helpers commands share.
import fs from 'node:fs'
import path from 'node:path'
import { usageError } from '../core/errors.ts'
import type { Home } from '../core/home.ts'

// What every command gets from its entry point, so the library never reaches for globals.
export interface Context {
  env: NodeJS.ProcessEnv
  cwd: string
  home: Home
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

export const DEFAULT_CONFIG = 'dev-config.yaml'

export function csv(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
}

export function positiveInt(flag: string, value: string | undefined, min = 1, max = 65535): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw usageError(`${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return n
}

export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb'
}

// A rendered config goes to -o FILE (its path is returned, and said on stderr) or to stdout.
export function emitRendered(text: string, output: string | undefined, ctx: Context): string | undefined {
  if (!output) {
    ctx.stdout.write(text)
    return undefined
  }
  const file = path.resolve(ctx.cwd, output)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
  ctx.stderr.write(`wrote ${file}\n`)
  return file
}
