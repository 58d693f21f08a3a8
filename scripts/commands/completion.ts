// The `completion` command: a shell's completion script, or the running stack's names for it (kept quick:
// it reads the state file and loads nothing of a stack).
import type { Context } from '../../lib/cli/context.ts'
import type { CommandDecl, Parsed, Run } from '../../lib/cli/command.ts'
import type meta from './completion.meta.ts'
import { completionScript, parseShell, stackNames } from '../../lib/cli/completion.ts'
import { readJsonFile } from '../../lib/core/json-files.ts'

// The script lists every command, so the entry point hands over its command declarations.
export function completionRun(declarations: () => Promise<CommandDecl[]>): Run<typeof meta> {
  return async ({ values, positionals }: Parsed<typeof meta>, ctx: Context) => {
    if (values.names) {
      const names = stackNames(readJsonFile(ctx.home.state), Boolean(values.instances))
      ctx.stdout.write(names.map((name) => `${name}\n`).join(''))
      return 0
    }
    ctx.stdout.write(completionScript(parseShell(positionals[0]), await declarations()))
    return 0
  }
}
