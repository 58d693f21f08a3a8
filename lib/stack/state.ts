// The state file, run/state.json: what a running stack is made of, and whether its supervisor still lives.
import fs from 'node:fs'
import path from 'node:path'
import { BackendManagerError } from '../core/errors.ts'
import { RUN_ENV, supervisorTag, type ProcessRecord } from '../os/process-record.ts'
import type { Home } from '../core/home.ts'
import type { Plan } from '../config/plan.ts'
import { commandArgs, environValue, isSameProcess } from '../os/platform.ts'
import { removeFile } from '../core/safe-files.ts'
import { writeJsonAtomic } from '../core/json-files.ts'

export interface StackState {
  version: 1
  // Unique per start; every managed process carries it in its environment, so escaped descendants can be found.
  runId: string
  phase: 'starting' | 'running' | 'stopping'
  startedAt: number
  supervisor: { pid: number; startTime: string }
  plan: Plan
  // Every port the stack listens on: instances and proxy.
  ports: number[]
  processes: ProcessRecord[]
}

export function writeState(home: Home, state: StackState): void {
  writeJsonAtomic(home.state, state)
}

function problem(home: Home, message: string): BackendManagerError {
  return new BackendManagerError(
    'STATE',
    `${home.state}: ${message}; the stack may still be running: ` +
      `"backend-manager stop --force" finds its processes, stops them and removes the file`,
  )
}

// undefined when no stack was started here; a clear error when the file is damaged.
export function readState(home: Home): StackState | undefined {
  let text: string
  try {
    text = fs.readFileSync(home.state, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw problem(home, `cannot read (${(error as NodeJS.ErrnoException).code})`)
  }
  let state: StackState
  try {
    state = JSON.parse(text)
  } catch (error) {
    throw problem(home, `not valid JSON (${(error as Error).message})`)
  }
  if (
    state?.version !== 1 ||
    !Array.isArray(state.processes) ||
    typeof state.supervisor?.pid !== 'number' ||
    typeof state.plan !== 'object'
  )
    throw problem(
      home,
      'expected a state file written by this version of backend-manager (version 1 with supervisor, plan and processes)',
    )
  for (const [i, p] of state.processes.entries()) {
    if (
      !Number.isInteger(p.pid) ||
      p.pid <= 1 ||
      !Number.isInteger(p.pgid) ||
      p.pgid <= 1 ||
      typeof p.startTime !== 'string'
    )
      throw problem(
        home,
        `processes[${i}] expected a pid and pgid above 1 and a start time` +
          `, got pid ${JSON.stringify(p.pid)}, pgid ${JSON.stringify(p.pgid)}`,
      )
  }
  return state
}

export function removeState(home: Home): void {
  removeFile(home.state)
}

// Whether a command line is this tool's CLI running `command` (node .../backend-manager.js ... supervise).
export function isCliCommand(argv: string[], command: string): boolean {
  return argv.some((a) => /^backend-manager(\.[cm]?[jt]s)?$/.test(path.basename(a))) && argv.includes(command)
}

// The recorded supervisor is still that very process: pid above 1, start time, command line and run tag.
// A start bringing the stack up (or running it in the foreground) supervises from the CLI process, which has no tag.
export function supervisorAlive(state: StackState): boolean {
  const { pid, startTime } = state.supervisor
  if (!Number.isInteger(pid) || pid <= 1 || typeof startTime !== 'string' || !isSameProcess(pid, startTime))
    return false
  const argv = commandArgs(pid)
  // Where the system shows no command line (nor environment), pid and start time decide.
  if (argv === undefined) return true
  const tag = environValue(pid, RUN_ENV)
  if (argv.at(-1) === 'supervise') return isCliCommand(argv, 'supervise') && tag === supervisorTag(state.runId)
  return isCliCommand(argv, 'start') && tag === undefined
}

// The supervisor of the stack in this home, while it is the recorded process (it writes the unified log).
export function liveSupervisor(home: Home): { pid: number; alive(): boolean } | undefined {
  const state = readState(home)
  return state && { pid: state.supervisor.pid, alive: () => supervisorAlive(state) }
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by ${signal}`
  return `exited with code ${code}`
}

// The port offset the stack here runs with; undefined when none runs or its state cannot be read (nothing to check).
export function runningPortOffset(home: Home): number | undefined {
  try {
    const state = readState(home)
    return state ? (state.plan.portOffset ?? 0) : undefined
  } catch {
    return undefined
  }
}
