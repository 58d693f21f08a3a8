// A proxy's own check of a config it would run (nginx -t, envoy --mode validate), in a throwaway home if need be.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveHome, type Home } from '../core/home.ts'

// What the proxy said: ok, and its own words (shown as they are when it rejects the config).
export interface ConfCheck {
  ok: boolean
  output: string
}

// Renders into a temporary home and checks the config there, so the real home is left alone; the
// folder is removed afterwards. `render` writes the config and returns its path.
export function checkInTempHome(
  render: (home: Home) => string,
  check: (home: Home, conf: string) => ConfCheck,
): ConfCheck {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-manager-check-'))
  try {
    const home = resolveHome({}, root, root)
    return check(home, render(home))
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}
