/**
 * Per-connection guards on the MQTT parser (mqtt-packet 9, as aedes 1.2.0 uses it): what
 * MQTT 3.1.1 (or, where it leaves the choice to the server, Mosquitto) refuses is refused
 * while the packet is parsed, before aedes handles it. Each guard that fails closes the
 * connection (the parse error makes aedes destroy it). In order:
 *
 * - Fixed header: MQTT 3.1 retried PUBREL, SUBSCRIBE and UNSUBSCRIBE packets with DUP set,
 *   as it retried PUBLISH; 3.1.1 made that bit reserved [MQTT-2.2.2-2], and mqtt-packet
 *   refuses it from every client. From a 3.1 client it is accepted.
 * - Maximum packet size: the parser would otherwise buffer a packet of any declared
 *   length (up to 256 MiB) before aedes sees it. The check runs as soon as the remaining
 *   length is known, so the bytes are never buffered.
 * - Strings: [MQTT-1.5.3-1] ill-formed UTF-8 and [MQTT-1.5.3-2] U+0000; mqtt-packet decodes
 *   strings with replacement characters instead. Control characters (U+0001 to U+001F,
 *   U+007F to U+009F), which the spec lets a server refuse (1.5.3), are refused too.
 * - CONNECT: connect-rules.ts (CONNACK 0x01 for an unsupported protocol level).
 * - [MQTT-2.3.1-1] a packet identifier of 0 (PUBLISH QoS 1/2, SUBSCRIBE, UNSUBSCRIBE,
 *   acknowledgements), and an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) whose
 *   remaining length is not 2, the only one MQTT 3.1.1 gives them.
 * - [MQTT-3.10.3-2] an UNSUBSCRIBE without a topic filter.
 * - An acknowledgement of the wrong type for what it answers (ack-types.ts).
 */
import { isUtf8 } from 'node:buffer'
import type { ExpectedAcks } from './ack-types.js'
import { guardConnect } from './connect-rules.js'
import type { PacketParser } from './internals.js'
import { ProtocolViolation } from './protocol-violation.js'

export { ProtocolViolation }

export interface ParserGuardOptions {
  maxPacketSize: number
  /** What the client's acknowledgements must answer. */
  acks: ExpectedAcks
}

/** First bytes of PUBREL, SUBSCRIBE and UNSUBSCRIBE with DUP set, as MQTT 3.1 retries them. */
const RETRIED_IN_31: ReadonlyMap<number, string> = new Map([[0x6a, 'pubrel'], [0x8a, 'subscribe'], [0xaa, 'unsubscribe']])

export function guardParser (parser: PacketParser, options: ParserGuardOptions): void {
  const { maxPacketSize } = options
  const parseHeader = parser._parseHeader
  parser._parseHeader = function guardedParseHeader (this: PacketParser) {
    const cmd = RETRIED_IN_31.get(this._list.readUInt8(0))
    if (cmd === undefined || this.settings?.protocolVersion !== 3) return parseHeader.call(this)
    Object.assign(this.packet, { cmd, retain: false, qos: 1, dup: true })
    this._list.consume(1)
    return true
  }

  const parseLength = parser._parseLength
  parser._parseLength = function guardedParseLength (this: PacketParser) {
    const complete = parseLength.call(this)
    if (complete && fixedHeaderSize(this.packet.length) + this.packet.length > maxPacketSize) {
      this._emitError(new ProtocolViolation('packet exceeds maximum packet size', this.packet.cmd))
      return false
    }
    return complete
  }

  const parseString = parser._parseString
  parser._parseString = function guardedParseString (this: PacketParser) {
    const start = this._pos + 2 // after the two-byte length prefix
    const value = parseString.call(this)
    // Decoding turned ill-formed UTF-8 into U+FFFD: only a string holding U+FFFD or U+0000
    // needs its bytes checked (most topics do not, and cost no copy).
    if (value !== null && (value.includes('\uFFFD') || value.includes('\u0000'))) {
      const bytes = this._list.slice(start, this._pos)
      if (!isUtf8(bytes)) {
        this._emitError(new ProtocolViolation('string is not well-formed UTF-8 [MQTT-1.5.3-1]', this.packet.cmd))
        return null
      }
      if (bytes.includes(0)) {
        this._emitError(new ProtocolViolation('string contains U+0000 [MQTT-1.5.3-2]', this.packet.cmd))
        return null
      }
    }
    if (value !== null && hasControlCharacter(value)) {
      this._emitError(new ProtocolViolation('string contains a control character (1.5.3)', this.packet.cmd))
      return null
    }
    return value
  }

  guardConnect(parser)

  const parseMessageId = parser._parseMessageId
  parser._parseMessageId = function guardedParseMessageId (this: PacketParser) {
    if (!parseMessageId.call(this)) return false
    const id = this.packet.messageId ?? 0
    if (id < 1) {
      this._emitError(new ProtocolViolation(`packet identifier ${id} [MQTT-2.3.1-1]`, this.packet.cmd))
      return false
    }
    return true
  }

  const parseConfirmation = parser._parseConfirmation
  parser._parseConfirmation = function guardedParseConfirmation (this: PacketParser) {
    if (this.packet.length !== 2) {
      return this._emitError(new ProtocolViolation(`${this.packet.cmd ?? 'acknowledgement'} of remaining length ${this.packet.length}, not 2`, this.packet.cmd))
    }
    const result = parseConfirmation.call(this)
    if (hasError(this) || this.client === undefined) return result
    const violation = options.acks.received(this.client, this.packet.cmd ?? '', this.packet.messageId ?? 0)
    if (violation !== undefined) this._emitError(new ProtocolViolation(`protocol violation: ${violation}`, this.packet.cmd))
    return result
  }

  const parseUnsubscribe = parser._parseUnsubscribe
  parser._parseUnsubscribe = function guardedParseUnsubscribe (this: PacketParser) {
    const result = parseUnsubscribe.call(this)
    if (!hasError(this) && this.packet.unsubscriptions?.length === 0) {
      this._emitError(new ProtocolViolation('UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]', 'unsubscribe'))
    }
    return result
  }
}

/** Whether `value` holds U+0001 to U+001F or U+007F to U+009F (1.5.3). */
function hasControlCharacter (value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if ((c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}

function hasError (parser: PacketParser): boolean {
  return parser.error !== null && parser.error !== undefined
}

/** Size of the fixed header for a packet whose remaining length is `length`. */
function fixedHeaderSize (length: number): number {
  if (length < 128) return 2
  if (length < 16384) return 3
  if (length < 2097152) return 4
  return 5
}
