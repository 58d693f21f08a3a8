// after_stop: shell commands run once a stop is complete (every process gone, every port free), one after the other
// in the config's folder, their output in the unified log as `after_stop` lines. The first failure ends the list
// and is reported, but the stack stays stopped.
import fs from 'node:fs'
import { spawn } from 'node:child_process'
import type { Home } from '../core/home.ts'
import { openAppend } from '../core/safe-files.ts'
import type { Plan } from '../config/plan.ts'
import { cleanLine, prefixLine, type Stream } from '../logs/line.ts'
import { unifiedLogPath } from '../logs/paths.ts'
import { describeExit } from './state.ts'
import { HOME_ENV, RUN_ENV } from '../os/process-record.ts'

// The prefix of its lines in the unified log.
export const AFTER_STOP_ID = 'after_stop'

export interface AfterStopResult {
  // How many commands ran (the failed one included).
  ran: number
  // The command that failed and how; the ones after it did not run.
  failed?: string
}

type Write = (text: string, stream?: Stream) => void

export async function runAfterStop(
  home: Home,
  hook: NonNullable<Plan['afterStop']>,
  env: NodeJS.ProcessEnv,
): Promise<AfterStopResult> {
  // Nobody else writes the unified log now: the supervisor that did is gone.
  const fd = openAppend(unifiedLogPath(home))
  const write: Write = (text, stream = 'out') =>
    void fs.writeSync(fd, `${prefixLine(AFTER_STOP_ID, cleanLine(text), stream)}\n`)
  try {
    let ran = 0
    for (const command of hook.commands) {
      write(`$ ${command}`)
      const how = await runCommand(command, hook.cwd, env, write)
      ran++
      if (how !== describeExit(0, null)) {
        write(`${command}: ${how}`, 'err')
        return { ran, failed: `"${command}" ${how}` }
      }
    }
    return { ran }
  } finally {
    fs.closeSync(fd)
  }
}

// One command through /bin/sh, each line it prints written as it comes; resolves with how it ended.
function runCommand(command: string, cwd: string, env: NodeJS.ProcessEnv, write: Write): Promise<string> {
  return new Promise((resolve) => {
    // Not a process of the stopped stack: a later stop (or stop --force) must not take it for one.
    const { [RUN_ENV]: _run, [HOME_ENV]: _home, ...own } = env
    const child = spawn('/bin/sh', ['-c', command], { cwd, env: own, stdio: ['ignore', 'pipe', 'pipe'] })
    for (const [stream, pipe] of [
      ['out', child.stdout],
      ['err', child.stderr],
    ] as const) {
      let rest = ''
      pipe.setEncoding('utf8')
      pipe.on('data', (data: string) => {
        const lines = (rest + data).split('\n')
        rest = lines.pop()!
        for (const line of lines) write(line, stream)
      })
      pipe.on('end', () => rest && write(rest, stream))
    }
    child.once('error', (error) => resolve(`could not start: ${error.message}`))
    child.once('close', (code, signal) => resolve(describeExit(code, signal)))
  })
}
