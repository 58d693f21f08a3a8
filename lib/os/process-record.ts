// What is recorded of a process the stack runs (its group, its start time) and the run tag in its environment,
// which is how a process is known to be ours before any signal is sent to it.

// Enough to find a process group again and tell it from a later process that reused the pid.
export interface GroupRecord {
  pid: number
  pgid: number
  startTime: string
}

// paused: stopped by SIGSTOP on purpose (`pause`) and out of the proxy's rotation until `resume`.
// completed, failed: how a task (a process that runs to completion) ended.
export type ProcessState =
  'starting' | 'running' | 'restarting' | 'stopped' | 'crashed' | 'paused' | 'completed' | 'failed'

// What the state file records of one OS process the stack runs (a server instance or the proxy).
export interface ProcessRecord {
  id: string
  kind: 'server' | 'proxy'
  server: string
  port?: number
  pid: number
  pgid: number
  startTime: string
  startedAt: number
  state: ProcessState
  restarts: number
  // Why it is not running, in words: "exited with code 1", "killed by SIGKILL".
  lastExit?: string
  // A task's exit code, once it ended with one.
  exitCode?: number
  // Why the supervisor last restarted (or stopped) it on its own: "unhealthy: HTTP 500 ...", "memory 212M > 100M".
  restartReason?: string
  // Taken over from an earlier supervisor that died: not a child of this one, so how it ends may be unknown.
  adopted?: boolean
  logFile: string
  // The change (a file, relative to the config's folder) that made `start --watch` restart it last.
  watchTrigger?: string
}

// The recorded processes of one run: what may be signalled, and the tag each of them carries.
export interface RecordedRun {
  runId: string
  processes: ProcessRecord[]
}

// Unique per start; every managed process carries it in its environment, so escaped descendants can be found.
export const RUN_ENV = 'BACKEND_MANAGER_RUN'
// The home's path, in the environment of every process of its stack: found by it when the state file is lost.
export const HOME_ENV = 'BACKEND_MANAGER_STACK_HOME'
// The run tag of a stack's detached supervisor.
export const supervisorTag = (runId: string) => `${runId}/supervisor`

// A process is the recorded one when its start time now is the recorded one ('unknown': ps could not tell).
export const sameStart = (now: string | undefined, recorded: string) =>
  now !== undefined && (now === recorded || now === 'unknown')
