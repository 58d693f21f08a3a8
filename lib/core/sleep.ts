// A promise that resolves after ms milliseconds (polling loops await it between checks).
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// Blocks this thread for ms milliseconds, for the few waits that must finish before anything else runs.
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
