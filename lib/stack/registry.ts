// The per-user list of running stacks, so `ls` shows them all and a command run where there is no stack can
// say where they are. One small file per stack, keyed by its home; the home's state file stays the truth.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { homeAt, type Home } from '../core/home.ts'
import { isSameProcess } from '../os/platform.ts'
import { writeFileAtomic } from '../core/safe-files.ts'
import { readState, supervisorAlive, type StackState } from './state.ts'

export interface RegistryEntry {
  home: string
  config: string
  supervisorPid: number
  runId: string
  registeredAt: number
}

export interface RunningStack extends RegistryEntry {
  // false: the supervisor died while servers still run ("start" re-adopts them, "stop" stops them).
  supervisorAlive: boolean
  // The home's state file could not be read; the entry is kept and shown as such.
  problem?: string
}

// $XDG_STATE_HOME/backend-manager/stacks, else ~/.local/state/backend-manager/stacks.
export function registryDir(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : path.join(env.HOME || os.homedir(), '.local', 'state')
  return path.join(base, 'backend-manager', 'stacks')
}

const entryFile = (env: NodeJS.ProcessEnv, home: string) =>
  path.join(
    registryDir(env),
    `${crypto.createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 16)}.json`,
  )

// Best effort: a registry that cannot be written (read-only or full disk) never fails a start.
export function registerStack(home: Home, state: StackState, env: NodeJS.ProcessEnv): void {
  const entry: RegistryEntry = {
    home: home.root,
    config: state.plan.file,
    supervisorPid: state.supervisor.pid,
    runId: state.runId,
    registeredAt: Date.now(),
  }
  const file = entryFile(env, home.root)
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
    // 0600, never through a link, whatever the umask: like every file of a stack's home.
    writeFileAtomic(file, JSON.stringify(entry) + '\n')
  } catch {
    // Listed next time: the stack runs either way.
  }
}

export function unregisterStack(home: Home, env: NodeJS.ProcessEnv): void {
  try {
    fs.rmSync(entryFile(env, home.root), { force: true })
  } catch {
    // A registry we cannot change is pruned by the next reader.
  }
}

function readEntry(file: string): RegistryEntry | undefined {
  try {
    const e = JSON.parse(fs.readFileSync(file, 'utf8')) as RegistryEntry
    return typeof e?.home === 'string' && path.isAbsolute(e.home) ? e : undefined
  } catch {
    return undefined
  }
}

// Every stack of this user that still runs, by its home's state file; entries of stacks that are gone are removed.
export function runningStacks(env: NodeJS.ProcessEnv): RunningStack[] {
  const dir = registryDir(env)
  let names: string[]
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  const out: RunningStack[] = []
  for (const name of names) {
    const file = path.join(dir, name)
    const entry = readEntry(file)
    const live = entry && liveness(entry)
    if (!entry || !live) {
      fs.rmSync(file, { force: true })
      continue
    }
    out.push({ ...entry, ...live })
  }
  return out.sort((a, b) => a.home.localeCompare(b.home))
}

function liveness(
  entry: RegistryEntry,
): Pick<RunningStack, 'supervisorAlive' | 'problem' | 'config' | 'supervisorPid'> | undefined {
  let state: StackState | undefined
  try {
    state = readState(homeAt(entry.home))
  } catch (error) {
    return {
      supervisorAlive: false,
      problem: error instanceof Error ? error.message : String(error),
      config: entry.config,
      supervisorPid: entry.supervisorPid,
    }
  }
  if (!state) return undefined
  const facts = { config: state.plan.file, supervisorPid: state.supervisor.pid }
  if (supervisorAlive(state)) return { supervisorAlive: true, ...facts }
  return state.processes.some((p) => p.pid > 1 && isSameProcess(p.pid, p.startTime))
    ? { supervisorAlive: false, ...facts }
    : undefined
}

// What a command says where there is no stack: where it looked, and the stacks that run elsewhere.
export function noStackHere(home: Home, env: NodeJS.ProcessEnv): string {
  const where =
    home.origin === 'default'
      ? `no .local/ holding a stack in ${path.dirname(home.root)} or above`
      : `nothing runs from ${home.root}`
  const elsewhere = runningStacks(env).filter((s) => s.home !== home.root)
  if (elsewhere.length === 0) return `no stack here (${where}); none running elsewhere`
  const list = elsewhere.map((s) => s.home).join(', ')
  return `no stack here (${where}); running elsewhere: ${list} (cd there or pass --home DIR; "backend-manager ls" lists them)`
}
