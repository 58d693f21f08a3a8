// Progress lines for the terminal: a process ready, adopted, waiting, restarting or crashed; and the stop report.
import { useColour } from './context.ts'
import type { StopResult } from '../stack/stop.ts'
import type { ProgressEvent } from '../stack/supervision.ts'
import { plural } from '../core/words.ts'

const paint = (on: boolean, code: number, text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text)

// One line per process as it becomes ready (or is adopted), aligned on the process name.
export function progressPrinter(out: NodeJS.WritableStream & { isTTY?: boolean }, env: NodeJS.ProcessEnv) {
  const colour = useColour(out, env)
  return (e: ProgressEvent) => {
    const name = e.id.padEnd(20)
    if (e.type === 'ready')
      out.write(
        `${paint(colour, 32, 'ready')}    ${name} pid ${e.pid}${e.port ? ` port ${e.port}` : ''} in ${e.ms} ms (${e.detail})\n`,
      )
    else if (e.type === 'waiting')
      out.write(`${paint(colour, 90, 'waiting')}  ${name} ${Math.round(e.ms / 1000)} s, ${e.reason}\n`)
    else if (e.type === 'adopted')
      out.write(`${paint(colour, 36, 'adopted')}  ${name} pid ${e.pid} (already running)\n`)
    else if (e.type === 'restarting')
      out.write(`${paint(colour, 33, 'restart')}  ${name} ${e.reason}; again in ${e.delayMs} ms\n`)
    else if (e.type === 'crashed') out.write(`${paint(colour, 31, 'crashed')}  ${name} ${e.reason}\n`)
  }
}

// "all 5 processes ready", "1 process ready": the line a start ends with.
export function allReady(count: number): string {
  return count === 1 ? '1 process ready' : `all ${count} processes ready`
}

export function printStopReport(result: StopResult, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  if (!result.wasRunning || !result.report) {
    out.write('nothing is running\n')
    return 0
  }
  const r = result.report
  if (r.killed.length) err.write(`killed after stop_timeout: ${r.killed.join(', ')}\n`)
  for (const e of r.escaped) err.write(`stopped an escaped process: ${e}\n`)
  if (r.survivors.length) {
    err.write(
      `Error: not everything stopped; the state file is kept so "stop" can try again:\n${r.survivors.map((s) => `  ${s}`).join('\n')}\n`,
    )
    return 1
  }
  out.write(`stopped ${plural(r.stopped.length, 'process', 'processes')} in ${result.ms} ms; all ports released\n`)
  const after = result.afterStop
  if (after && !after.failed) out.write(`after_stop: ${plural(after.ran, 'command')} ran\n`)
  if (after?.failed)
    err.write(`Error: after_stop: ${after.failed}; the stack stays stopped ("logs after_stop" shows its output)\n`)
  if (result.stoppedBecause) err.write(`Error: ${result.stoppedBecause}\n`)
  return after?.failed || result.stoppedBecause ? 1 : 0
}
