/**
 * Error codes, in one catalogue (fastify's FST_ERR_* idea). Expected races and
 * protocol outcomes are results, not errors; these are for what stops an operation.
 */
export const ERR = {
  CONFIG: 'ERR_CONFIG',
  CONFIG_FILE: 'ERR_CONFIG_FILE',
  USAGE: 'ERR_USAGE',
  LISTEN: 'ERR_LISTEN',
  TLS: 'ERR_TLS',
  REDIS_MODE: 'ERR_REDIS_MODE',
  REDIS_UNREACHABLE: 'ERR_REDIS_UNREACHABLE',
  SCRIPT_REPLY: 'ERR_SCRIPT_REPLY',
  FRAME: 'ERR_FRAME',
  BENCH: 'ERR_BENCH',
  AUTH_FILE: 'ERR_AUTH_FILE',
  /** A newer connection (on this node or another) owns the session: an expected race. */
  SESSION_TAKEN_OVER: 'ERR_SESSION_TAKEN_OVER'
} as const

export type ErrorCode = typeof ERR[keyof typeof ERR]

export interface BrokerErrorDetails {
  /** Every problem found, for errors that collect several (configuration). */
  problems?: string[]
  cause?: unknown
}

export class BrokerError extends Error {
  readonly code: ErrorCode
  readonly problems: readonly string[]

  constructor (code: ErrorCode, message: string, details: BrokerErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'BrokerError'
    this.code = code
    this.problems = details.problems ?? []
  }
}

/** Exit status for configuration and usage errors (as documented in README and --help). */
export const EXIT_CONFIG = 2

/** A write for a connection whose session a newer connection holds now. */
export function sessionTakenOver (): BrokerError {
  return new BrokerError(ERR.SESSION_TAKEN_OVER, 'session taken over')
}

export function isSessionTakenOver (err: unknown): boolean {
  return err instanceof BrokerError && err.code === ERR.SESSION_TAKEN_OVER
}
