// The Model Context Protocol server on stdio: the tools a coding agent drives the stack with, each answering
// compact JSON; a failure (no stack, a bad name) is an error result with the message, never a crash.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import type { Readable, Writable } from 'node:stream'
import { asFileProblem } from '../core/safe-files.ts'
import { isKnownError } from '../core/errors.ts'
import { healthTool, logsTool, planTool, restartTool, scaleTool, statusTool, type ToolContext } from './mcp-tools.ts'

async function answer(work: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return { content: [{ type: 'text', text: JSON.stringify(await work()) }] }
  } catch (thrown) {
    const error = asFileProblem(thrown)
    const message = isKnownError(error) || error instanceof Error ? error.message : String(error)
    return { content: [{ type: 'text', text: message }], isError: true }
  }
}

const readOnly = { readOnlyHint: true, openWorldHint: false }

export function mcpServer(ctx: ToolContext, version: string): McpServer {
  const server = new McpServer({ name: 'backend-manager', version })
  server.registerTool(
    'status',
    {
      description: 'Every process of the running stack: id, state, pid, port, health, restarts, last exit.',
      annotations: readOnly,
    },
    () => answer(() => statusTool(ctx)),
  )
  server.registerTool(
    'logs',
    {
      description: `The unified log (every process, prefixed by its id), or one server's or instance's lines.
Returns {lines, skipped, cursor}: pass the cursor back to get only the lines written since (it survives
"logs clean" and rotation); without one, the last lines.`,
      inputSchema: {
        server: z.string().optional().describe('a server (every instance), an instance id NAME-i, or "supervisor"'),
        cursor: z.string().optional().describe('the cursor a previous logs call returned'),
        limit: z.number().int().min(1).max(10_000).optional().describe('at most this many lines, the newest (100)'),
      },
      annotations: readOnly,
    },
    (args) => answer(() => logsTool(ctx, args)),
  )
  server.registerTool(
    'restart',
    {
      description: `Rolling restart through the supervisor, one instance at a time behind nginx: the named
servers or NAME-i instances, or every process when none is named. Returns each instance's old and new pid.`,
      inputSchema: {
        names: z.array(z.string().min(1)).optional().describe('servers or NAME-i instance ids; omit for all'),
      },
      annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args) => answer(() => restartTool(ctx, args)),
  )
  server.registerTool(
    'scale',
    {
      description: 'Run this many instances of each named server, without dropping a request.',
      inputSchema: {
        servers: z.record(z.string(), z.number().int().min(1).max(256)).describe('server name -> instance count'),
      },
      annotations: { destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args) => answer(() => scaleTool(ctx, args)),
  )
  server.registerTool(
    'health',
    {
      description: 'Every server instance probed directly and each server through the proxy, as the health command.',
      annotations: readOnly,
    },
    () => answer(() => healthTool(ctx)),
  )
  server.registerTool(
    'plan',
    {
      description: `What the config would run, starting nothing: processes (command, port, readiness), the proxy
and its routes. The running stack's config unless another file is named.`,
      inputSchema: { config: z.string().optional().describe('a config file (default: the running one)') },
      annotations: readOnly,
    },
    (args) => answer(() => planTool(ctx, args)),
  )
  return server
}

// Serves on the streams (stdin and stdout) until the client closes its end.
export async function serveMcp(ctx: ToolContext, version: string, input: Readable, output: Writable): Promise<void> {
  const server = mcpServer(ctx, version)
  const transport = new StdioServerTransport(input, output)
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve))
  await server.connect(transport)
  input.once('end', () => void server.close())
  await closed
}
