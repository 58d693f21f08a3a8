// Plain-text tables for the terminal (status, plan, health, ls): columns padded to their widest cell.

// Colour codes take no room on a terminal, so they do not count towards a cell's width.
const visibleLength = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').length

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))))
  const pad = (c: string, width: number) => c + ' '.repeat(Math.max(0, width - visibleLength(c)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}
