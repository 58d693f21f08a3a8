// One line of the unified log: `<id padded to 20>>> <text>` for stdout, `!> ` for stderr.
export const PREFIX_WIDTH = 20

export type Stream = 'out' | 'err'

// CSI (colours, cursor moves), OSC (titles, links) and two-byte escapes (charset, save cursor).
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x1b[()][0-9A-Za-z]/g
const MARKS: Record<Stream, string> = { out: '>>', err: '!>' }
// What follows the padded id: the same width for both streams, so the columns stay aligned.
const OWNER = /^([a-z0-9][a-z0-9_-]*) *([>!])> /

export function prefixLine(id: string, text: string, stream: Stream = 'out'): string {
  return `${id.padEnd(PREFIX_WIDTH)}${MARKS[stream]} ${text}`
}

// What a line looks like in a file: no colour codes, and for progress output only its final state.
export function cleanLine(raw: string): string {
  const noColour = raw.includes('\x1b') ? raw.replace(ANSI, '') : raw
  const trimmed = noColour.replace(/\r+$/, '')
  const lastCr = trimmed.lastIndexOf('\r')
  return lastCr >= 0 ? trimmed.slice(lastCr + 1) : trimmed
}

export interface ParsedLine {
  id: string
  stream: Stream
  text: string
}

// Takes a unified-log line apart; undefined for anything that is not one.
export function parseLine(line: string): ParsedLine | undefined {
  const m = OWNER.exec(line)
  if (!m) return undefined
  return { id: m[1], stream: m[2] === '!' ? 'err' : 'out', text: line.slice(m[0].length) }
}

// The id a unified-log line belongs to, without building the rest.
export function lineOwner(line: string): string | undefined {
  return OWNER.exec(line)?.[1]
}

// The server an instance id belongs to: `api-1` -> `api`; ids without an instance number are their own server.
export function serverOf(id: string): string {
  return id.replace(/-\d+$/, '')
}

// The newline byte, where lines are found in raw bytes.
export const NL = 0x0a

// Splits bytes into text lines; the bytes must end with a newline (a whole number of lines).
export function decodeLines(bytes: Buffer): string[] {
  if (bytes.length === 0) return []
  const lines = bytes.toString('utf8').split('\n')
  if (bytes[bytes.length - 1] === NL) lines.pop()
  return lines
}

// The last index <= limit that does not fall inside a UTF-8 sequence, for cutting a line too long to keep.
export function utf8Boundary(bytes: Buffer, limit: number): number {
  let at = Math.min(limit, bytes.length)
  while (at > 0 && at < bytes.length && (bytes[at] & 0xc0) === 0x80) at--
  return at > 0 ? at : Math.min(limit, bytes.length)
}

const ESC = 0x1b
const CR = 0x0d
const NEWLINE = Buffer.from('\n')

// The bytes that start every line of one process's stream in the unified log.
export function linePrefix(id: string, stream: Stream): Buffer {
  return Buffer.from(prefixLine(id, '', stream))
}

// `<prefix><line>\n` for each line of `bytes` (whole lines, ending in a newline). Plain lines are
// copied byte for byte; only lines with escape codes or carriage returns go through cleanLine.
export function formatLines(prefix: Buffer, whole: Buffer): { data: Buffer; count: number } {
  const bytes = whole.length === 0 || whole[whole.length - 1] === NL ? whole : Buffer.concat([whole, NEWLINE])
  let count = 0
  for (let i = bytes.indexOf(NL); i >= 0; i = bytes.indexOf(NL, i + 1)) count++
  if (count === 0) return { data: Buffer.alloc(0), count: 0 }
  const plain = !bytes.includes(ESC) && !bytes.includes(CR)
  const parts: Buffer[] = []
  const data = plain ? Buffer.allocUnsafe(bytes.length + count * prefix.length) : Buffer.alloc(0)
  let dst = 0
  for (let src = 0; src < bytes.length;) {
    const end = bytes.indexOf(NL, src) + 1
    if (plain) {
      dst += prefix.copy(data, dst)
      dst += bytes.copy(data, dst, src, end)
    } else {
      const line = bytes.subarray(src, end - 1)
      parts.push(
        prefix,
        line.includes(ESC) || line.includes(CR) ? Buffer.from(cleanLine(line.toString('utf8'))) : line,
        NEWLINE,
      )
    }
    src = end
  }
  return { data: plain ? data : Buffer.concat(parts), count }
}
