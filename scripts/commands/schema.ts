// The `schema` command: the config's JSON Schema, printed or saved.
import { emitRendered, type Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './schema.meta.ts'
import { configJsonSchemaText } from '../../lib/config/json-schema.ts'

export async function run({ values }: Parsed<typeof meta>, ctx: Context): Promise<number> {
  emitRendered(configJsonSchemaText(), values.output, ctx)
  return 0
}
