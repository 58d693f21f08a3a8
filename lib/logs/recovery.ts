// After a writer of the unified log died (even by SIGKILL): what the next one starts from.
import fs from 'node:fs'
import path from 'node:path'
import type { Home } from '../core/home.ts'
import type { RecordedRun } from '../os/process-record.ts'
import { offsetsPath, readAt, unifiedLogPath } from './paths.ts'
import { cutCopy, locate } from './source.ts'
import {
  fromBase64,
  loadLogState,
  toBase64,
  type CopyIntent,
  type LoadedLogState,
  type SourceState,
} from './offsets.ts'
import { resumePaused } from './rotate.ts'
import { truncateRegular } from '../core/safe-files.ts'

// Crash recovery: a last write to the unified log that did not (fully) happen is undone and redone,
// a stderr copy that did happen is found, and groups left paused by a rotation are resumed. What of the
// saved file was damaged comes back with it, so the caller takes those files from their end.
export function recover(home: Home, run: RecordedRun | undefined): LoadedLogState {
  const { state, damage } = loadLogState(home)
  resumePaused(home, run)
  const pending = state.pending
  const unified = unifiedLogPath(home)
  const stat = fs.statSync(unified, { throwIfNoEntry: false })
  if (pending && stat && stat.ino === pending.ino && stat.size >= pending.before && stat.size < pending.after) {
    if (stat.size > pending.before) truncateRegular(unified, pending.before)
    state.sources = pending.prev
  }
  for (const intent of state.copying ?? []) {
    const source = state.sources[intent.out]
    if (source) recoverCopy(intent, source)
  }
  return { state: { version: 2, sources: state.sources }, damage }
}

// After a crash between planning a copy and recording it: find whether it reached the log file.
function recoverCopy(intent: CopyIntent, state: SourceState): void {
  if (!state.err || state.err.offset !== intent.errFrom) return
  const data = readAt(state.err.file, intent.errFrom, intent.errTo - intent.errFrom)
  const carry = fromBase64(intent.errCarry)
  const cut = cutCopy(Buffer.concat([carry, data]), intent.final)
  if (!cut || data.length !== intent.errTo - intent.errFrom) return
  const end = locate(state.out.file, Math.max(intent.outBefore, state.out.offset), cut.bytes)
  if (end === undefined) return
  state.copies = [...(state.copies ?? []), [end - cut.bytes.length, end]]
  state.err = { file: state.err.file, offset: intent.errTo, carry: toBase64(cut.rest) }
}

// Why lines may be missing after damaged offsets: said in the unified log itself and to the supervisor's log.
export function damageText(home: Home, damage: NonNullable<LoadedLogState['damage']>): string {
  const where = damage.whole ? 'every file' : damage.files.map((f) => path.basename(f)).join(', ')
  return (
    `${offsetsPath(home)} was damaged (${damage.detail})` +
    `: the unified log goes on from the end of ${where}` +
    `; what was printed while no supervisor ran is only in each process's own log file`
  )
}
