// One error class for everything the user can cause or fix; the code picks the exit status.
export type ErrorCode =
  | 'USAGE' // bad command line
  | 'CONFIG' // bad config file
  | 'STATE' // unreadable or inconsistent state files
  | 'PORT_BUSY' // a port the stack needs is taken
  | 'START_FAILED'
  | 'STOP_FAILED'
  | 'LOCKED' // another command holds the state dir
  | 'NGINX' // nginx missing or rejecting its config
  | 'NOT_FOUND'

const exitCodes: Record<ErrorCode, number> = {
  USAGE: 2,
  CONFIG: 2,
  STATE: 2,
  PORT_BUSY: 1,
  START_FAILED: 1,
  STOP_FAILED: 1,
  LOCKED: 1,
  NGINX: 1,
  NOT_FOUND: 1,
}

export class BackendManagerError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  constructor(code: ErrorCode, message: string) {
    super(message)
    this.name = 'BackendManagerError'
    this.code = code
    this.exitCode = exitCodes[code]
  }
}

// A code read back from elsewhere (the control socket's answer) is one of ours, or it is not trusted.
export const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && code in exitCodes

export const usageError = (message: string) => new BackendManagerError('USAGE', message)

export function isKnownError(error: unknown): error is BackendManagerError {
  return error instanceof BackendManagerError
}
