/**
 * Binary frames sent between nodes on their inbox channels. A frame is a header naming
 * the sender, then records back to back, so that every publish a node routes to one peer
 * in one tick travels in one SPUBLISH. No JSON on this path.
 *
 *   frame    = u8 version(2 or 3) | u8 senderLength | sender | u32 seq | record*
 *              (seq: numbers the frames from one sender to one receiver, from 1; 0 on
 *              a node's pings to itself. A gap tells the receiver frames were lost.)
 *   publish  = u8 1 | u8 flags(qos 0-1, retain 2, dup 3) | u16 topicLength | topic
 *              | u8 brokerIdLength | brokerId | f64 brokerCounter
 *              | f64 publishedAt (version 3 only) | u32 payloadLength | payload
 *              (publishedAt: wall-clock ms since the epoch, fractions included, when
 *              the publishing node accepted the PUBLISH; 0 when unknown)
 *   routes   = u8 2 | u32 seq | u16 count | (u8 add(1)/remove(0) | u16 length | filter)*
 *   ack      = u8 3 | u32 seq                  (routes delta `seq` applied by the sender)
 *   ping     = u8 4 | u32 nonce                (a node checking its own inbox)
 *   hello    = u8 5                            (a member joined: send it your deltas)
 *   gone     = u8 6 | u8 length | memberId     (a member was reaped)
 *   kick     = u8 7 | u16 length | clientId | u8 length | epoch
 *                                              (close this client unless its epoch is newer)
 *   direct   = u8 8 | u16 length | clientId | publish
 *                                              (a QoS 1/2 message for one session only)
 *   adopt    = u8 9 | u16 length | clientId | u8 length | epoch
 *                                              (you own this parked session now)
 *   adopted  = u8 11 | u16 length | clientId | u8 length | epoch
 *                                              (the adopter holds that session's routes now)
 *   admin    = u8 10 | u16 length | clientId | u8 length | action
 *                                              (an operator's request: `disconnect` a
 *                                              client, or `drain` this node)
 *   shared   = u8 12 | u8 hops | u16 length | group | u16 length | filter | u32 hash | publish
 *                                              (for one member of a shared group on this
 *                                              node; hops: times it was passed on already)
 *
 * Versions. A reader drops a whole frame of a version it does not know, and one with a
 * record type it does not know: records carry no length, so nothing after an unknown one
 * can be found. Nodes of releases before version 3 read version 2 only. A new field
 * therefore needs a new version, which a node writes only while every live member reads
 * it: each node announces the newest version it reads with its lease, and a sender writes
 * `FRAME_VERSION` while all live members announced it, `LEGACY_FRAME_VERSION` otherwise
 * (see `#updateFrameVersion` in cluster.ts). Both versions are read.
 */
import { BinaryReader, malformed as malformedIn } from '../redis/reader.js'

export interface PublishRecord {
  kind: 'publish'
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  dup: boolean
  brokerId: string
  brokerCounter: number
  /**
   * When the publishing node accepted the PUBLISH (wall-clock ms since the epoch, with
   * fractions). Absent when the frame was of version 2 or the sender did not know it.
   */
  publishedAt?: number | undefined
}
export interface RouteChange { add: boolean, filter: string }
export type InboxRecord =
  | PublishRecord
  | { kind: 'routes', seq: number, changes: RouteChange[] }
  | { kind: 'ack', seq: number }
  | { kind: 'ping', nonce: number }
  | { kind: 'hello' }
  | { kind: 'gone', memberId: string }
  | { kind: 'kick', clientId: string, epoch: string }
  | { kind: 'direct', clientId: string, publish: PublishRecord }
  | { kind: 'adopt', clientId: string, epoch: string }
  | { kind: 'admin', action: string, clientId: string }
  | { kind: 'adopted', clientId: string, epoch: string }
  | SharedRecord

/** A message for one member of the shared group (group, filter) on the receiving node. */
export interface SharedRecord { kind: 'shared', group: string, filter: string, hash: number, hops: number, publish: PublishRecord }

/** The newest frame version: publish records carry their publish time. */
export const FRAME_VERSION = 3
/** The version every node reads, releases before version 3 included. */
export const LEGACY_FRAME_VERSION = 2
export type FrameVersion = typeof FRAME_VERSION | typeof LEGACY_FRAME_VERSION
const T_PUBLISH = 1
const T_ROUTES = 2
const T_ACK = 3
const T_PING = 4
const T_HELLO = 5
const T_GONE = 6
const T_KICK = 7
const T_DIRECT = 8
const T_ADOPT = 9
const T_ADMIN = 10
const T_ADOPTED = 11
const T_SHARED = 12

/**
 * Builds one frame in a single growing buffer: a record costs no allocation of its own,
 * which keeps the publish hot path from feeding the garbage collector.
 */
export class FrameWriter {
  #buf: Buffer
  #len = 0
  #records = 0
  /** The frame carries a QoS 1/2 message: it is also written to the receiver's journal. */
  durable = false
  /** Publish records carry their publish time (version 3). */
  readonly #timed: boolean
  readonly version: FrameVersion

  /**
   * @param seq the frame's number (see the format above)
   * @param version `LEGACY_FRAME_VERSION` for a cluster where some member reads no newer
   */
  constructor (sender: string, seq = 0, version: FrameVersion = FRAME_VERSION, initialBytes = 4096) {
    this.version = version
    this.#timed = version >= 3
    this.#buf = Buffer.allocUnsafe(initialBytes)
    const idLength = Buffer.byteLength(sender)
    this.#ensure(6 + idLength)
    this.#buf[0] = version
    this.#buf[1] = idLength
    this.#len = 2 + this.#buf.write(sender, 2)
    this.#buf.writeUInt32BE(seq >>> 0, this.#len)
    this.#len += 4
  }

  get bytes (): number { return this.#len }
  get records (): number { return this.#records }

  publish (p: Omit<PublishRecord, 'kind'>): this {
    if (p.qos > 0) this.durable = true
    const topicLength = Buffer.byteLength(p.topic)
    const brokerIdLength = Buffer.byteLength(p.brokerId)
    this.#ensure(4 + topicLength + 1 + brokerIdLength + 20 + p.payload.length)
    const b = this.#buf
    let o = this.#len
    b[o++] = T_PUBLISH
    b[o++] = (p.qos & 3) | (p.retain ? 4 : 0) | (p.dup ? 8 : 0)
    o = b.writeUInt16BE(topicLength, o)
    o += b.write(p.topic, o)
    b[o++] = brokerIdLength
    o += b.write(p.brokerId, o)
    o = b.writeDoubleBE(p.brokerCounter, o)
    if (this.#timed) {
      const at = p.publishedAt
      o = b.writeDoubleBE(at !== undefined && at > 0 ? at : 0, o)
    }
    o = b.writeUInt32BE(p.payload.length, o)
    o += p.payload.copy(b, o)
    this.#len = o
    return this.#counted()
  }

  routes (seq: number, changes: RouteChange[]): this {
    this.#ensure(7)
    this.#buf[this.#len] = T_ROUTES
    this.#buf.writeUInt32BE(seq, this.#len + 1)
    this.#buf.writeUInt16BE(changes.length, this.#len + 5)
    this.#len += 7
    for (const c of changes) {
      const length = Buffer.byteLength(c.filter)
      this.#ensure(3 + length)
      this.#buf[this.#len] = c.add ? 1 : 0
      this.#buf.writeUInt16BE(length, this.#len + 1)
      this.#len += 3 + this.#buf.write(c.filter, this.#len + 3)
    }
    return this.#counted()
  }

  ack (seq: number): this { return this.#u32(T_ACK, seq) }
  ping (nonce: number): this { return this.#u32(T_PING, nonce) }

  hello (): this {
    this.#ensure(1)
    this.#buf[this.#len++] = T_HELLO
    return this.#counted()
  }

  gone (memberId: string): this {
    const length = Buffer.byteLength(memberId)
    this.#ensure(2 + length)
    this.#buf[this.#len] = T_GONE
    this.#buf[this.#len + 1] = length
    this.#len += 2 + this.#buf.write(memberId, this.#len + 2)
    return this.#counted()
  }

  kick (clientId: string, epoch: string): this {
    return this.#clientEpoch(T_KICK, clientId, epoch)
  }

  adopt (clientId: string, epoch: string): this {
    return this.#clientEpoch(T_ADOPT, clientId, epoch)
  }

  /** Confirms an adoption: the session is loaded and its routes are held. */
  adopted (clientId: string, epoch: string): this {
    return this.#clientEpoch(T_ADOPTED, clientId, epoch)
  }

  /** An operator's request (`disconnect` with a client id, `drain` with none). */
  admin (action: string, clientId = ''): this {
    return this.#clientEpoch(T_ADMIN, clientId, action)
  }

  #clientEpoch (type: number, clientId: string, epoch: string): this {
    this.#clientId(type, clientId)
    const length = Buffer.byteLength(epoch)
    this.#ensure(1 + length)
    this.#buf[this.#len] = length
    this.#len += 1 + this.#buf.write(epoch, this.#len + 1)
    return this.#counted()
  }

  /** A publish for one session: counted as one record. */
  direct (clientId: string, p: Omit<PublishRecord, 'kind'>): this {
    this.#clientId(T_DIRECT, clientId)
    this.publish(p)
    this.#records--
    return this
  }

  /** A publish for one member of a shared group: counted as one record. */
  shared (s: Omit<SharedRecord, 'kind' | 'publish'>, p: Omit<PublishRecord, 'kind'>): this {
    const groupLength = Buffer.byteLength(s.group)
    const filterLength = Buffer.byteLength(s.filter)
    this.#ensure(10 + groupLength + filterLength)
    const b = this.#buf
    let o = this.#len
    b[o++] = T_SHARED
    b[o++] = s.hops & 0xff
    o = b.writeUInt16BE(groupLength, o)
    o += b.write(s.group, o)
    o = b.writeUInt16BE(filterLength, o)
    o += b.write(s.filter, o)
    o = b.writeUInt32BE(s.hash >>> 0, o)
    this.#len = o
    this.publish(p)
    this.#records--
    return this
  }

  #clientId (type: number, clientId: string): void {
    const length = Buffer.byteLength(clientId)
    this.#ensure(3 + length)
    this.#buf[this.#len] = type
    this.#buf.writeUInt16BE(length, this.#len + 1)
    this.#len += 3 + this.#buf.write(clientId, this.#len + 3)
  }

  /** The frame (a view of the writer's buffer: do not write more afterwards). */
  finish (): Buffer {
    return this.#buf.subarray(0, this.#len)
  }

  #u32 (type: number, value: number): this {
    this.#ensure(5)
    this.#buf[this.#len] = type
    this.#buf.writeUInt32BE(value >>> 0, this.#len + 1)
    this.#len += 5
    return this.#counted()
  }

  #ensure (more: number): void {
    if (this.#len + more <= this.#buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + more))
    this.#buf.copy(grown, 0, 0, this.#len)
    this.#buf = grown
  }

  #counted (): this {
    this.#records++
    return this
  }
}

/** Decodes a frame; throws BrokerError on a malformed frame (the caller logs and drops it). */
export function decodeFrame (frame: Buffer): { sender: string, seq: number, records: InboxRecord[], version: FrameVersion } {
  const r = new BinaryReader(frame, 'inbox frame')
  const version = r.u8()
  if (version !== FRAME_VERSION && version !== LEGACY_FRAME_VERSION) throw malformed('unknown frame version')
  const timed = version === FRAME_VERSION
  const sender = r.str(r.u8())
  const seq = r.u32()
  const records: InboxRecord[] = []
  while (!r.done) {
    const type = r.u8()
    switch (type) {
      case T_PUBLISH: records.push(readPublish(r, timed)); break
      case T_ROUTES: {
        const seq = r.u32()
        const count = r.u16()
        const changes: RouteChange[] = []
        for (let i = 0; i < count; i++) {
          const add = r.u8() === 1
          changes.push({ add, filter: r.str(r.u16()) })
        }
        records.push({ kind: 'routes', seq, changes })
        break
      }
      case T_ACK: records.push({ kind: 'ack', seq: r.u32() }); break
      case T_PING: records.push({ kind: 'ping', nonce: r.u32() }); break
      case T_HELLO: records.push({ kind: 'hello' }); break
      case T_GONE: records.push({ kind: 'gone', memberId: r.str(r.u8()) }); break
      case T_KICK: records.push({ kind: 'kick', clientId: r.str(r.u16()), epoch: r.str(r.u8()) }); break
      case T_ADOPT: records.push({ kind: 'adopt', clientId: r.str(r.u16()), epoch: r.str(r.u8()) }); break
      case T_ADOPTED: records.push({ kind: 'adopted', clientId: r.str(r.u16()), epoch: r.str(r.u8()) }); break
      case T_ADMIN: {
        const clientId = r.str(r.u16())
        records.push({ kind: 'admin', clientId, action: r.str(r.u8()) })
        break
      }
      case T_DIRECT: {
        const clientId = r.str(r.u16())
        if (r.u8() !== T_PUBLISH) throw malformed('direct record without a publish')
        records.push({ kind: 'direct', clientId, publish: readPublish(r, timed) })
        break
      }
      case T_SHARED: {
        const hops = r.u8()
        const group = r.str(r.u16())
        const filter = r.str(r.u16())
        const hash = r.u32()
        if (r.u8() !== T_PUBLISH) throw malformed('shared record without a publish')
        records.push({ kind: 'shared', group, filter, hash, hops, publish: readPublish(r, timed) })
        break
      }
      default: throw malformed(`unknown record type ${type}`)
    }
  }
  return { sender, seq, records, version }
}

function readPublish (r: BinaryReader, timed: boolean): PublishRecord {
  const flags = r.u8()
  const topic = r.str(r.u16())
  const brokerId = r.repeatedStr(r.u8())
  const brokerCounter = r.f64()
  const publishedAt = timed ? r.f64() : 0
  const payload = r.bytes(r.u32())
  const qos = (flags & 3) as 0 | 1 | 2
  const retain = (flags & 4) !== 0
  const dup = (flags & 8) !== 0
  // Not a number, infinite or not after the epoch: unknown. (Two literals, not a property
  // added afterwards: each shape is made directly, which keeps reading them fast.)
  return publishedAt > 0 && publishedAt < Infinity
    ? { kind: 'publish', topic, payload, qos, retain, dup, brokerId, brokerCounter, publishedAt }
    : { kind: 'publish', topic, payload, qos, retain, dup, brokerId, brokerCounter }
}

function malformed (why: string): Error {
  return malformedIn('inbox frame', why)
}
