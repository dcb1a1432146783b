/**
 * CONNECT rules checked while the packet is parsed (mqtt-packet 9 accepts these packets,
 * or refuses them without the CONNACK the spec asks for):
 *
 * - [MQTT-3.1.2-2] a protocol level the server does not support gets CONNACK 0x01, then
 *   the connection is closed. slotmq speaks "MQIsdp" level 3 (MQTT 3.1) and "MQTT" level 4
 *   (MQTT 3.1.1), with or without the bridge bit (0x80) that Mosquitto bridges set; any
 *   other level under either name is refused so (0, 2, 5, 6, 255, "MQTT"/3, "MQIsdp"/4).
 *   Another protocol name closes the connection without CONNACK [MQTT-3.1.2-1].
 * - [MQTT-3.1.2-14] will QoS 3, [MQTT-4.7.3-1] a zero-length will topic, [MQTT-3.3.2-2] a
 *   will topic with a wildcard: the connection is closed.
 * - [MQTT-3.1.2-22] the password flag without the user name flag: closed.
 * - [MQTT-3.1.2-18] [MQTT-3.1.2-20] a user name or password present without its flag
 *   (bytes left after the payload the flags describe): closed.
 */
import type { PacketParser } from './internals.js'
import { ProtocolViolation } from './protocol-violation.js'

/** CONNACK, return code 0x01 (unacceptable protocol version), no Session Present. */
const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01])
const PASSWORD_FLAG = 0x40
const USERNAME_FLAG = 0x80

interface ConnectPacket {
  length: number
  cmd?: string
  will?: { topic?: string, qos?: number }
}

export function guardConnect (parser: PacketParser): void {
  const parseConnect = parser._parseConnect
  parser._parseConnect = function guardedParseConnect (this: PacketParser) {
    const head = peekHead(this)
    if (head !== undefined && !supported(head.name, head.level)) {
      return refuseLevel(this, head.name, head.level)
    }
    const result = parseConnect.call(this)
    if (this.error !== null && this.error !== undefined) return result
    const problem = connectProblem(this.packet as ConnectPacket, head, this._pos)
    if (problem !== undefined) this._emitError(new ProtocolViolation(problem, 'connect'))
    return result
  }
}

function supported (name: string, level: number): boolean {
  if (name !== 'MQTT' && name !== 'MQIsdp') return true // mqtt-packet closes it
  const base = level & 0x7f // the bridge bit
  return (name === 'MQIsdp' && base === 3) || (name === 'MQTT' && base === 4)
}

/** Protocol name, level and connect flags, read before mqtt-packet parses the packet. */
function peekHead (parser: PacketParser): { name: string, level: number, flags: number | undefined } | undefined {
  const length = parser.packet.length
  if (length < 2) return undefined
  const nameLength = parser._list.readUInt16BE(0)
  const levelAt = 2 + nameLength
  if (levelAt >= length || nameLength > 6) return undefined
  const name = parser._list.toString('utf8', 2, levelAt)
  const flags = levelAt + 1 < length ? parser._list.readUInt8(levelAt + 1) : undefined
  return { name, level: parser._list.readUInt8(levelAt), flags }
}

function connectProblem (packet: ConnectPacket, head: { flags: number | undefined } | undefined, parsedTo: number): string | undefined {
  const will = packet.will
  if (will !== undefined) {
    if (will.qos === 3) return 'will QoS 3 [MQTT-3.1.2-14]'
    if (will.topic === '') return 'zero-length will topic [MQTT-4.7.3-1]'
    if (will.topic !== undefined && /[+#]/.test(will.topic)) return 'will topic with a wildcard [MQTT-3.3.2-2]'
  }
  const flags = head?.flags ?? 0
  if ((flags & PASSWORD_FLAG) !== 0 && (flags & USERNAME_FLAG) === 0) return 'password flag without user name flag [MQTT-3.1.2-22]'
  if (parsedTo < packet.length) return 'bytes after the CONNECT payload: a user name or password without its flag [MQTT-3.1.2-18] [MQTT-3.1.2-20]'
  return undefined
}

/**
 * CONNACK 0x01, then the connection closes (the parse error makes aedes destroy it). The
 * four bytes are written straight to the socket, which takes them at once: nothing has
 * been written to a connection before its CONNECT is parsed.
 */
function refuseLevel (parser: PacketParser, name: string, level: number): void {
  const conn = parser.client?.conn
  if (conn !== undefined && conn.writable === true) conn.write(CONNACK_UNACCEPTABLE_PROTOCOL)
  parser._emitError(new ProtocolViolation(`unacceptable protocol version: ${JSON.stringify(name)} level ${level} [MQTT-3.1.2-2]`, 'connect'))
}
