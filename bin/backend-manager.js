#!/usr/bin/env node
// Runs the compiled CLI from dist/ when it is at least as new as every source file (node starts it in
// ~50 ms), and always in an installed package; otherwise the TypeScript sources through tsx, so an edit is
// never run stale.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const built = path.join(root, 'dist', 'scripts', 'backend-manager.js')
const stamp = path.join(root, 'dist', '.stamp')

function newestSource(dir) {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs)
  }
  return newest
}

function freshBuild() {
  try {
    const built = fs.statSync(stamp).mtimeMs
    return built >= newestSource(path.join(root, 'lib')) && built >= newestSource(path.join(root, 'scripts'))
  } catch {
    return false
  }
}

// An installed package carries only the build (no TypeScript sources to be stale against).
const installed = !fs.existsSync(path.join(root, 'lib'))
if (installed || (process.env.BACKEND_MANAGER_NO_BUILD !== '1' && freshBuild())) {
  await import(built)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(path.join(root, 'scripts', 'backend-manager.ts'))
}
