import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  decideAfterExit,
  MAX_BACKOFF_MS,
  STABLE_AFTER_MS,
  type ExitDecision,
  type ExitFacts,
} from '../../lib/stack/restart-policy.ts'

const base: ExitFacts = {
  policy: 'on-failure',
  maxRestarts: 3,
  reason: 'exited with code 1',
  uptimeMs: 50,
  unstable: 0,
}

const cases: { name: string; facts: Partial<ExitFacts>; want: ExitDecision }[] = [
  {
    name: 'on-failure: a failure restarts after 100 ms',
    facts: {},
    want: { state: 'restarting', lastExit: 'exited with code 1', unstable: 1, delayMs: 100 },
  },
  {
    name: 'on-failure: the backoff doubles with each quick failure',
    facts: { unstable: 2 },
    want: { state: 'restarting', lastExit: 'exited with code 1', unstable: 3, delayMs: 400 },
  },
  {
    name: 'on-failure: a clean exit is not restarted',
    facts: { reason: 'exited with code 0' },
    want: { state: 'stopped', lastExit: 'exited with code 0', unstable: 0 },
  },
  {
    name: 'on-failure: a signal counts as a failure',
    facts: { reason: 'killed by SIGKILL' },
    want: { state: 'restarting', lastExit: 'killed by SIGKILL', unstable: 1, delayMs: 100 },
  },
  {
    name: 'max_restarts quick failures in a row: crashed, saying why',
    facts: { unstable: 3 },
    want: { state: 'crashed', lastExit: 'exited with code 1; gave up after 3 restarts (max_restarts 3)', unstable: 3 },
  },
  {
    name: 'max_restarts 1 reads in the singular',
    facts: { unstable: 1, maxRestarts: 1 },
    want: { state: 'crashed', lastExit: 'exited with code 1; gave up after 1 restart (max_restarts 1)', unstable: 1 },
  },
  {
    name: 'max_restarts 0: never restarted',
    facts: { maxRestarts: 0 },
    want: { state: 'crashed', lastExit: 'exited with code 1; gave up after 0 restarts (max_restarts 0)', unstable: 0 },
  },
  {
    name: 'a stable run starts the backoff over',
    facts: { unstable: 3, uptimeMs: STABLE_AFTER_MS + 1 },
    want: { state: 'restarting', lastExit: 'exited with code 1', unstable: 1, delayMs: 100 },
  },
  {
    name: 'the backoff is capped',
    facts: { unstable: 20, maxRestarts: 100 },
    want: { state: 'restarting', lastExit: 'exited with code 1', unstable: 21, delayMs: MAX_BACKOFF_MS },
  },
  {
    name: 'always: even a clean exit is restarted',
    facts: { policy: 'always', reason: 'exited with code 0' },
    want: { state: 'restarting', lastExit: 'exited with code 0', unstable: 1, delayMs: 100 },
  },
  {
    name: 'no: a failure is left crashed',
    facts: { policy: 'no' },
    want: { state: 'crashed', lastExit: 'exited with code 1', unstable: 0 },
  },
  {
    name: 'no: a clean exit is stopped',
    facts: { policy: 'no', reason: 'exited with code 0' },
    want: { state: 'stopped', lastExit: 'exited with code 0', unstable: 0 },
  },
]

for (const c of cases) {
  test(`decideAfterExit: ${c.name}`, () => {
    assert.deepEqual(decideAfterExit({ ...base, ...c.facts }), c.want)
  })
}
