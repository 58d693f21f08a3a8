// Lines the writer of the unified log says itself (the supervisor's events): kept in order until they are written,
// so a full disk delays them like every other line instead of losing them.
import { prefixLine } from './line.ts'

// Whose lines these are in the unified log; `logs supervisor` shows them.
export const SUPERVISOR_ID = 'supervisor'
// A crash loop on a full disk must not grow memory without bound: past this, the oldest are dropped and counted.
const MAX_WAITING = 10_000

interface Waiting {
  bytes: Buffer
  // A followed log file whose lines printed so far come first (what the process said before it exited).
  after?: string
}

const lineOf = (text: string) => Buffer.from(`${prefixLine(SUPERVISOR_ID, text)}\n`)

export class SaidLines {
  private waiting: Waiting[] = []
  private dropped = 0

  add(text: string, after?: string): void {
    this.waiting.push({ bytes: lineOf(text), after })
    if (this.waiting.length > MAX_WAITING) {
      this.waiting.shift()
      this.dropped++
    }
  }

  get empty(): boolean {
    return this.waiting.length === 0 && this.dropped === 0
  }

  // Writes them in order, each after catching up with its file; a failure leaves it and the rest waiting.
  flush(catchUp: (file: string) => void, write: (bytes: Buffer) => void): void {
    if (this.dropped) {
      write(lineOf(`${this.dropped} events were dropped while the unified log could not be written`))
      this.dropped = 0
    }
    while (this.waiting.length) {
      const next = this.waiting[0]
      if (next.after) catchUp(next.after)
      write(next.bytes)
      this.waiting.shift()
    }
  }
}
