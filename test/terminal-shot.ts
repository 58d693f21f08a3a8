// A terminal's screen as a PNG: `tmux capture-pane -e` text (SGR colours) to HTML, shot by headless Chromium.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { hasCommand } from './helpers.ts'

const COLOURS: Record<number, string> = {
  30: '#1e1e1e',
  31: '#e06c75',
  32: '#98c379',
  33: '#e5c07b',
  34: '#61afef',
  35: '#c678dd',
  36: '#56b6c2',
  37: '#dcdfe4',
  90: '#7f848e',
}
const FG = '#dcdfe4'
const BG = '#1e1e1e'

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

// Each run of text in a span with the colours, weight and reverse video the SGR codes before it set.
export function ansiToHtml(text: string, rows: number): string {
  let fg = FG
  let bold = false
  let reverse = false
  const out: string[] = []
  for (const part of text.split(/(\x1b\[[0-9;]*m)/)) {
    const sgr = /^\x1b\[([0-9;]*)m$/.exec(part)
    if (!sgr) {
      if (!part) continue
      const [colour, back] = reverse ? [BG, fg] : [fg, BG]
      const style = `color:${colour};background:${back}${bold ? ';font-weight:bold' : ''}`
      out.push(`<span style="${style}">${escapeHtml(part)}</span>`)
      continue
    }
    for (const code of (sgr[1] || '0').split(';').map(Number)) {
      if (code === 0) [fg, bold, reverse] = [FG, false, false]
      else if (code === 1) bold = true
      else if (code === 7) reverse = true
      else if (code === 27) reverse = false
      else if (code === 39) fg = FG
      else if (COLOURS[code]) fg = COLOURS[code]
    }
  }
  const lines = out.join('').split('\n').slice(0, rows).join('\n')
  return `<!doctype html><html><body style="margin:0;background:${BG}"><pre style="margin:0;padding:8px;
font:14px/1.25 'DejaVu Sans Mono',monospace;color:${FG}">${lines}</pre></body></html>`
}

// The PNG of the screen, or undefined (and why) without Chromium.
export function terminalShot(ansi: string, cols: number, rows: number, file: string): string | undefined {
  const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(hasCommand)
  if (!chromium) return 'no chromium installed to render the screenshot'
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-shot-'))
  try {
    const html = path.join(dir, 'screen.html')
    fs.writeFileSync(html, ansiToHtml(ansi, rows))
    const size = `${Math.ceil(cols * 8.43) + 16},${Math.ceil(rows * 17.5) + 16}`
    execFileSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        `--user-data-dir=${path.join(dir, 'profile')}`,
        '--hide-scrollbars',
        `--window-size=${size}`,
        `--screenshot=${file}`,
        `file://${html}`,
      ],
      { stdio: 'ignore', timeout: 60_000 },
    )
    return undefined
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
