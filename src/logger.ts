import { pino, type Logger } from 'pino'

export type { Logger }

export interface LoggerOptions {
  level: string
  nodeId: string
}

/**
 * The root logger. Every module takes `log.child({ module })`; connections take
 * `log.child({ clientId })`. Payloads and passwords never reach the output.
 */
export function createLogger (opts: LoggerOptions, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: opts.level,
    base: { nodeId: opts.nodeId, pid: process.pid },
    redact: ['password', '*.password', 'packet.payload', '*.packet.payload'],
    timestamp: pino.stdTimeFunctions.isoTime
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}
