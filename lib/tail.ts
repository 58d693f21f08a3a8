import fs from 'node:fs'

// The last `count` lines of a file, reading only its end.
export function tailLines(file: string, count: number): string[] {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return []
  }
  try {
    const size = fs.fstatSync(fd).size
    let start = size
    let text = ''
    while (start > 0 && text.split('\n').length <= count + 1) {
      const length = Math.min(start, 64 * 1024)
      start -= length
      const buffer = Buffer.alloc(length)
      fs.readSync(fd, buffer, 0, length, start)
      text = buffer.toString('utf8') + text
    }
    const lines = text.split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    return lines.slice(-count)
  } finally {
    fs.closeSync(fd)
  }
}
