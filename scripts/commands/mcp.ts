// The `mcp` command: serves the Model Context Protocol on stdio (the SDK loads only here, not for other commands).
import fs from 'node:fs'
import path from 'node:path'
import type { Context } from '../../lib/cli/context.ts'
import type { Parsed } from '../../lib/cli/command.ts'
import type meta from './mcp.meta.ts'
import { packageRoot } from '../../lib/core/home.ts'
import { serveMcp } from '../../lib/agent/mcp-server.ts'

export async function run(_parsed: Parsed<typeof meta>, ctx: Context): Promise<number> {
  const version = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version
  await serveMcp({ home: ctx.home, env: ctx.env, cwd: ctx.cwd }, version, process.stdin, process.stdout)
  return 0
}
