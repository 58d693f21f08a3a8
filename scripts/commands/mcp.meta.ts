// What mcp takes and says about itself; the run is in mcp.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'mcp',
  summary: 'a Model Context Protocol server on stdio, for coding agents',
  description: `Serves the Model Context Protocol on stdin and stdout until the client closes them, so a coding
agent can drive the stack of this home: tools status, logs (with a cursor, to read only what is new), restart,
scale, health and plan, each answering compact JSON. Register it with the agent, as in
"claude mcp add backend-manager -- npx backend-manager mcp". With no stack running, each tool says so.`,
})
