import { pino, type Logger } from 'pino'
import { PinoPretty } from 'pino-pretty'

export type { Logger }

export interface LoggerOptions {
  level: string
  nodeId: string
  /**
   * Human-readable lines (pino-pretty, in this process) instead of JSON: main.ts asks for
   * them when standard output is a terminal. JSON otherwise, one object per line.
   */
  pretty?: boolean
}

/**
 * The root logger. Every module takes `log.child({ module })` of this root logger (a child
 * of a child would repeat the key: pino writes bindings as they come); connections take
 * `log.child({ clientId })`. Levels are written as labels (`"level":"info"`). Payloads and
 * passwords never reach the output.
 */
export function createLogger (opts: LoggerOptions, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: opts.level,
    base: { nodeId: opts.nodeId, pid: process.pid },
    redact: ['password', '*.password', 'packet.payload', '*.packet.payload'],
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) }
  }
  if (destination !== undefined) return pino(options, destination)
  if (opts.pretty === true) {
    return pino(options, PinoPretty({ sync: true, colorize: true, singleLine: true, ignore: 'pid,hostname,nodeId,module', messageFormat: '{if module}{module}: {end}{msg}', translateTime: 'SYS:HH:MM:ss.l' }))
  }
  return pino(options)
}
