/**
 * Per-connection guards on the MQTT parser (mqtt-packet 9, as aedes 1.2.0 uses it).
 *
 * - Maximum packet size: the parser would otherwise buffer a packet of any declared
 *   length (up to 256 MiB) before aedes sees it. The check runs as soon as the remaining
 *   length is known, so the bytes are never buffered.
 * - [MQTT-1.5.3-1] ill-formed UTF-8 and [MQTT-1.5.3-2] U+0000 in a string field close the
 *   connection; mqtt-packet decodes strings with replacement characters instead.
 */
import { isUtf8 } from 'node:buffer'
import type { PacketParser } from './internals.js'

export class ProtocolViolation extends Error {
  /** The packet type being parsed when the violation was found. */
  readonly cmd: string | undefined

  constructor (message: string, cmd: string | undefined) {
    super(message)
    this.name = 'ProtocolViolation'
    this.cmd = cmd
  }
}

export function guardParser (parser: PacketParser, maxPacketSize: number): void {
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
    return value
  }
}

/** Size of the fixed header for a packet whose remaining length is `length`. */
function fixedHeaderSize (length: number): number {
  if (length < 128) return 2
  if (length < 16384) return 3
  if (length < 2097152) return 4
  return 5
}
