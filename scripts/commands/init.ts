// The `init` command: a starter config, or a Procfile converted, written where no file is yet.
import fs from 'node:fs'
import path from 'node:path'
import { DEFAULT_CONFIG, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './init.meta.ts'
import { usageError } from '../../lib/core/errors.ts'
import { parseProcfile, PROCFILE_BASE_PORT, procfileConfig, starterConfig } from '../../lib/config/init.ts'

function basePort(given: string | undefined): number {
  if (given === undefined) return PROCFILE_BASE_PORT
  const n = Number(given)
  if (!/^\d+$/.test(given) || n < 1 || n > 65535)
    throw usageError(`--port ${JSON.stringify(given)} is not a port, expected a whole number from 1 to 65535`)
  return n
}

export async function run({ values, positionals }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const file = path.resolve(ctx.cwd, positionals[0] ?? DEFAULT_CONFIG)
  let text = starterConfig()
  let guesses: string[] = []
  if (values.from !== undefined) {
    const source = path.resolve(ctx.cwd, values.from)
    let procfile: string
    try {
      procfile = fs.readFileSync(source, 'utf8')
    } catch (error) {
      throw usageError(
        `--from ${source}: ${(error as NodeJS.ErrnoException).code ?? error}, expected a readable Procfile`,
      )
    }
    ;({ text, guesses } = procfileConfig(parseProcfile(procfile, source), path.basename(source), basePort(values.port)))
  }
  try {
    // wx: never replaces a file, not even one created in between.
    fs.writeFileSync(file, text, { flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw usageError(`${file} already exists; init never overwrites a config (remove it or name another FILE)`)
    throw error
  }
  ctx.stdout.write(`wrote ${file}\n`)
  for (const g of guesses) ctx.stdout.write(`  guessed: ${g}\n`)
  const shown = path.relative(ctx.cwd, file)
  ctx.stdout.write(`next: backend-manager plan ${shown.startsWith('..') ? file : shown}\n`)
  return 0
}
