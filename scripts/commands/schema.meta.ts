// What schema takes and says about itself; the run is in schema.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'schema',
  summary: "print the config's JSON Schema, for editors and other tools",
  description: `Prints the JSON Schema (draft-07) of the config file, generated from the rules "plan" and "start"
check it with, each key with its description. Editors with the YAML language server read it from a first line
"# yaml-language-server: $schema=<path or URL of the file>"; the package ships it as
schema/backend-manager.schema.json.`,
  flags: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write the schema to FILE instead of stdout' },
  },
})
