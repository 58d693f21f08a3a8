// Sending a signal to a pid or a process group (negative target) without throwing when it is gone.

export function signal(target: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(target, sig)
    return true
  } catch {
    return false
  }
}

// Continues a process group paused for a rotation (nothing to do when it is gone).
export function resumeGroup(pgid: number): void {
  if (pgid > 1) signal(-pgid, 'SIGCONT')
}
