/**
 * Stored encodings: retained messages and the packets a session keeps on Redis (queued,
 * in flight, inbound QoS 2, will). The frames nodes send each other are in
 * src/routing/frames.ts.
 */
import { BinaryReader, malformed as malformedIn } from './reader.js'

const VERSION = 1

function malformed (why: string): Error {
  return malformedIn('stored packet', why)
}

/**
 * A retained message as stored in Redis: u8 version(1) | u32 payloadLength | payload |
 * JSON of the packet's other fields (small; retained writes are not the publish hot path).
 */
export function encodeRetained (packet: { payload: Buffer, topic: string } & Record<string, unknown>): Buffer {
  const { payload, topic: _topic, ...rest } = packet
  const meta = Buffer.from(JSON.stringify(rest))
  const head = Buffer.allocUnsafe(5)
  head.writeUInt8(VERSION, 0)
  head.writeUInt32BE(payload.length, 1)
  return Buffer.concat([head, payload, meta])
}

export function decodeRetained (topic: string, stored: Buffer): Record<string, unknown> & { topic: string, payload: Buffer } {
  const r = new BinaryReader(stored, 'stored packet')
  if (r.u8() !== VERSION) throw malformed('unknown retained version')
  const payload = Buffer.from(r.bytes(r.u32()))
  const meta = JSON.parse(stored.toString('utf8', 5 + payload.length)) as Record<string, unknown>
  return { ...meta, topic, payload }
}

/** Fields of an aedes packet that a session stores (besides the payload). */
const STORED_FIELDS = ['cmd', 'brokerId', 'brokerCounter', 'topic', 'qos', 'retain', 'dup', 'messageId', 'clientId', 'nl', 'properties', 'messageExpiry'] as const
const NO_PAYLOAD = 0xffffffff

/**
 * A session packet as stored in Redis (queued or in-flight message, PUBREL, inbound QoS 2
 * packet, will): u8 version(1) | u32 payloadLength (0xffffffff: none) | payload | JSON of
 * the other fields. A PUBLISH decodes with every field aedes' Packet has.
 */
export function encodeStoredPacket (packet: Record<string, unknown>): Buffer {
  const fields: Record<string, unknown> = {}
  for (const f of STORED_FIELDS) if (packet[f] !== undefined) fields[f] = packet[f]
  const payload = packet.payload
  if (typeof payload === 'string') fields.payloadString = true
  const body = Buffer.isBuffer(payload) ? payload : typeof payload === 'string' ? Buffer.from(payload) : undefined
  const head = Buffer.allocUnsafe(5)
  head.writeUInt8(VERSION, 0)
  head.writeUInt32BE(body === undefined ? NO_PAYLOAD : body.length, 1)
  return Buffer.concat(body === undefined ? [head, Buffer.from(JSON.stringify(fields))] : [head, body, Buffer.from(JSON.stringify(fields))])
}

export function decodeStoredPacket (stored: Buffer): Record<string, unknown> {
  const r = new BinaryReader(stored, 'stored packet')
  if (r.u8() !== VERSION) throw malformed('unknown stored packet version')
  const length = r.u32()
  const payload = length === NO_PAYLOAD ? undefined : Buffer.from(r.bytes(length))
  const { payloadString, ...fields } = JSON.parse(stored.toString('utf8', 5 + (payload?.length ?? 0))) as Record<string, unknown>
  const body = payloadString === true ? payload?.toString() : payload
  if (fields.cmd !== 'publish') return body === undefined ? fields : { ...fields, payload: body }
  return {
    ...fields,
    cmd: 'publish',
    brokerId: fields.brokerId,
    brokerCounter: fields.brokerCounter,
    topic: fields.topic,
    payload: body ?? Buffer.alloc(0),
    qos: fields.qos ?? 0,
    retain: fields.retain ?? false,
    dup: fields.dup ?? false,
    messageId: fields.messageId
  }
}
