/**
 * Why a client connection was closed, from the error aedes or the parser raised: a
 * short stable reason for metrics and logs, and how loudly to log it.
 */
import { ProtocolViolation } from './aedes/parser-guards.js'
import { isSessionTakenOver } from './errors.js'

export interface ClientProblem {
  reason: string
  level: 'debug' | 'info' | 'warn'
  /** The error cost a PUBLISH the client sent. */
  droppedPublish: boolean
}

const RULES: ReadonlyArray<{ test: RegExp, reason: string, level: ClientProblem['level'], publish?: boolean }> = [
  // Refusals by a configured limit; src/aedes/limits.ts logs them (rate-limited).
  { test: /publish topic over a limit/, reason: 'limit', level: 'debug', publish: true },
  { test: /limit reached/, reason: 'limit', level: 'debug' },
  { test: /maximum packet size/, reason: 'packet_too_large', level: 'warn' },
  { test: /UTF-8|U\+0000/, reason: 'invalid_utf8', level: 'warn' },
  { test: /in PUBLISH|topic has too many levels/, reason: 'invalid_topic', level: 'warn', publish: true },
  { test: /in SUBSCRIBE|in UNSUBSCRIBE|empty topic/, reason: 'invalid_topic_filter', level: 'warn' },
  { test: /keep alive timeout/, reason: 'keepalive_timeout', level: 'info' },
  { test: /connect did not arrive in time/, reason: 'connect_timeout', level: 'info' },
  { test: /protocol|Invalid header|Not supported|Packet too short|Cannot parse|flag|QoS|Invalid|length/i, reason: 'malformed_packet', level: 'warn' },
  { test: /ECONNRESET|EPIPE|ETIMEDOUT|write after end|connection closed/, reason: 'connection_lost', level: 'debug' },
  { test: /identifier rejected/, reason: 'identifier_rejected', level: 'info' },
  { test: /server unavailable/, reason: 'server_unavailable', level: 'warn' },
  { test: /queue limit/, reason: 'too_many_packets_before_connack', level: 'warn' }
]

/** Every reason classifyClientError can give (metrics create a series for each at start). */
export const CLIENT_ERROR_REASONS: readonly string[] = [...new Set(['session_taken_over', ...RULES.map(r => r.reason), 'other'])]

export function classifyClientError (err: Error): ClientProblem {
  if (isSessionTakenOver(err)) return { reason: 'session_taken_over', level: 'info', droppedPublish: false }
  const message = err.message
  const cmd = err instanceof ProtocolViolation ? err.cmd : undefined
  for (const rule of RULES) {
    if (rule.test.test(message)) {
      return { reason: rule.reason, level: rule.level, droppedPublish: rule.publish === true || cmd === 'publish' }
    }
  }
  return { reason: 'other', level: 'warn', droppedPublish: false }
}
