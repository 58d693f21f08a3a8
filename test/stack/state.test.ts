import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BackendManagerError } from '../../lib/core/errors.ts'
import { resolveHome } from '../../lib/core/home.ts'
import { describeExit, readState, writeState, type StackState } from '../../lib/stack/state.ts'

function home(t: { after(fn: () => void): void }) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-state-'))
  t.after(() => fs.rmSync(root, { recursive: true, force: true }))
  return resolveHome({}, root, root)
}

const valid = (): StackState => ({
  version: 1,
  runId: 'abc',
  phase: 'running',
  startedAt: 1,
  supervisor: { pid: 100, startTime: '5' },
  plan: {
    file: 'c.yaml',
    proxy: {} as StackState['plan']['proxy'],
    logs: { max_size: 0, keep: 1 },
    processes: [],
    upstreams: [],
    routes: [],
  },
  ports: [],
  processes: [
    {
      id: 'a-0',
      kind: 'server',
      server: 'a',
      pid: 200,
      pgid: 200,
      startTime: '7',
      startedAt: 1,
      state: 'running',
      restarts: 0,
      logFile: '/x',
    },
  ],
})

test('state: written atomically and read back; no file means no stack', (t) => {
  const h = home(t)
  assert.equal(readState(h), undefined)
  writeState(h, valid())
  assert.deepEqual(readState(h), valid())
  assert.deepEqual(fs.readdirSync(h.run), ['state.json'])
})

const damaged: { name: string; text: string; want: RegExp }[] = [
  {
    name: 'not JSON',
    text: '{"version": 1,',
    want: new RegExp(
      String.raw`state\.json: not valid JSON \(.+\); the stack may still be running: ` +
        String.raw`"backend-manager stop --force" finds its processes, stops them and removes the file$`,
    ),
  },
  {
    name: 'another version',
    text: JSON.stringify({ ...valid(), version: 2 }),
    want: /state\.json: expected a state file written by this version of backend-manager/,
  },
  {
    name: 'no processes list',
    text: JSON.stringify({ ...valid(), processes: 'none' }),
    want: /state\.json: expected a state file written by this version/,
  },
  {
    name: 'a pid that could hit init or every process',
    text: JSON.stringify({ ...valid(), processes: [{ ...valid().processes[0], pid: 1, pgid: 1 }] }),
    want: /state\.json: processes\[0\] expected a pid and pgid above 1 and a start time, got pid 1, pgid 1;/,
  },
  {
    name: 'no start time',
    text: JSON.stringify({ ...valid(), processes: [{ ...valid().processes[0], startTime: 7 }] }),
    want: /processes\[0\] expected a pid and pgid above 1 and a start time/,
  },
]

for (const c of damaged) {
  test(`state: a damaged file (${c.name}) is a clear error naming the file, exit 2`, (t) => {
    const h = home(t)
    fs.mkdirSync(h.run, { recursive: true })
    fs.writeFileSync(h.state, c.text)
    assert.throws(
      () => readState(h),
      (error: unknown) =>
        error instanceof BackendManagerError &&
        error.exitCode === 2 &&
        error.message.startsWith(h.state) &&
        c.want.test(error.message),
    )
  })
}

const exits: [number | null, NodeJS.Signals | null, string][] = [
  [0, null, 'exited with code 0'],
  [1, null, 'exited with code 1'],
  [null, 'SIGKILL', 'killed by SIGKILL'],
  [null, 'SIGSEGV', 'killed by SIGSEGV'],
]
for (const [code, signal, want] of exits)
  test(`describeExit(${code}, ${signal}) is "${want}"`, () => assert.equal(describeExit(code, signal), want))
