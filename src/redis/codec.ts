/**
 * Binary frames sent between nodes on their inbox channels. A frame is a header naming
 * the sender, then records back to back, so that every publish a node routes to one peer
 * in one tick travels in one SPUBLISH. No JSON on this path.
 *
 *   frame    = u8 version(1) | u8 senderLength | sender | record*
 *   publish  = u8 1 | u8 flags(qos 0-1, retain 2, dup 3) | u16 topicLength | topic
 *              | u8 brokerIdLength | brokerId | f64 brokerCounter | u32 payloadLength | payload
 *   routes   = u8 2 | u32 seq | u16 count | (u8 add(1)/remove(0) | u16 length | filter)*
 *   ack      = u8 3 | u32 seq                  (routes delta `seq` applied by the sender)
 *   ping     = u8 4 | u32 nonce                (a node checking its own inbox)
 *   hello    = u8 5                            (a member joined: send it your deltas)
 *   gone     = u8 6 | u8 length | memberId     (a member was reaped)
 */
import { BrokerError, ERR } from '../errors.js'

export interface PublishRecord {
  kind: 'publish'
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  dup: boolean
  brokerId: string
  brokerCounter: number
}
export interface RouteChange { add: boolean, filter: string }
export type InboxRecord =
  | PublishRecord
  | { kind: 'routes', seq: number, changes: RouteChange[] }
  | { kind: 'ack', seq: number }
  | { kind: 'ping', nonce: number }
  | { kind: 'hello' }
  | { kind: 'gone', memberId: string }

const VERSION = 1
const T_PUBLISH = 1
const T_ROUTES = 2
const T_ACK = 3
const T_PING = 4
const T_HELLO = 5
const T_GONE = 6

/** Builds one frame; payload buffers are referenced, not copied, until `finish`. */
export class FrameWriter {
  readonly #chunks: Buffer[] = []
  #bytes = 0
  #records = 0

  constructor (sender: string) {
    const id = Buffer.from(sender)
    const head = Buffer.allocUnsafe(2)
    head[0] = VERSION
    head[1] = id.length
    this.#push(head, id)
  }

  get bytes (): number { return this.#bytes }
  get records (): number { return this.#records }

  publish (p: Omit<PublishRecord, 'kind'>): this {
    const topic = Buffer.from(p.topic)
    const brokerId = Buffer.from(p.brokerId)
    const head = Buffer.allocUnsafe(4 + topic.length + 1 + brokerId.length + 12)
    let o = head.writeUInt8(T_PUBLISH, 0)
    o = head.writeUInt8((p.qos & 3) | (p.retain ? 4 : 0) | (p.dup ? 8 : 0), o)
    o = head.writeUInt16BE(topic.length, o)
    o += topic.copy(head, o)
    o = head.writeUInt8(brokerId.length, o)
    o += brokerId.copy(head, o)
    o = head.writeDoubleBE(p.brokerCounter, o)
    head.writeUInt32BE(p.payload.length, o)
    this.#push(head, p.payload)
    return this.#counted()
  }

  routes (seq: number, changes: RouteChange[]): this {
    const head = Buffer.allocUnsafe(7)
    head.writeUInt8(T_ROUTES, 0)
    head.writeUInt32BE(seq, 1)
    head.writeUInt16BE(changes.length, 5)
    this.#push(head)
    for (const c of changes) {
      const filter = Buffer.from(c.filter)
      const h = Buffer.allocUnsafe(3)
      h.writeUInt8(c.add ? 1 : 0, 0)
      h.writeUInt16BE(filter.length, 1)
      this.#push(h, filter)
    }
    return this.#counted()
  }

  ack (seq: number): this { return this.#u32(T_ACK, seq) }
  ping (nonce: number): this { return this.#u32(T_PING, nonce) }

  hello (): this {
    this.#push(Buffer.from([T_HELLO]))
    return this.#counted()
  }

  gone (memberId: string): this {
    const id = Buffer.from(memberId)
    this.#push(Buffer.from([T_GONE, id.length]), id)
    return this.#counted()
  }

  finish (): Buffer {
    return Buffer.concat(this.#chunks, this.#bytes)
  }

  #u32 (type: number, value: number): this {
    const b = Buffer.allocUnsafe(5)
    b.writeUInt8(type, 0)
    b.writeUInt32BE(value >>> 0, 1)
    this.#push(b)
    return this.#counted()
  }

  #push (...bufs: Buffer[]): void {
    for (const b of bufs) {
      this.#chunks.push(b)
      this.#bytes += b.length
    }
  }

  #counted (): this {
    this.#records++
    return this
  }
}

/** Decodes a frame; throws BrokerError on a malformed frame (the caller logs and drops it). */
export function decodeFrame (frame: Buffer): { sender: string, records: InboxRecord[] } {
  const r = new Reader(frame)
  if (r.u8() !== VERSION) throw malformed('unknown frame version')
  const sender = r.str(r.u8())
  const records: InboxRecord[] = []
  while (!r.done) {
    const type = r.u8()
    switch (type) {
      case T_PUBLISH: {
        const flags = r.u8()
        const topic = r.str(r.u16())
        const brokerId = r.str(r.u8())
        const brokerCounter = r.f64()
        const payload = r.bytes(r.u32())
        records.push({ kind: 'publish', topic, payload, qos: (flags & 3) as 0 | 1 | 2, retain: (flags & 4) !== 0, dup: (flags & 8) !== 0, brokerId, brokerCounter })
        break
      }
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
      default: throw malformed(`unknown record type ${type}`)
    }
  }
  return { sender, records }
}

function malformed (why: string): BrokerError {
  return new BrokerError(ERR.FRAME, `malformed inbox frame: ${why}`)
}

class Reader {
  readonly #buf: Buffer
  #o = 0
  constructor (buf: Buffer) { this.#buf = buf }
  get done (): boolean { return this.#o >= this.#buf.length }
  #need (n: number): number {
    const at = this.#o
    if (at + n > this.#buf.length) throw malformed('truncated')
    this.#o += n
    return at
  }

  u8 (): number { return this.#buf.readUInt8(this.#need(1)) }
  u16 (): number { return this.#buf.readUInt16BE(this.#need(2)) }
  u32 (): number { return this.#buf.readUInt32BE(this.#need(4)) }
  f64 (): number { return this.#buf.readDoubleBE(this.#need(8)) }
  bytes (n: number): Buffer { const at = this.#need(n); return this.#buf.subarray(at, at + n) }
  str (n: number): string { const at = this.#need(n); return this.#buf.toString('utf8', at, at + n) }
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
  const r = new Reader(stored)
  if (r.u8() !== VERSION) throw malformed('unknown retained version')
  const payload = Buffer.from(r.bytes(r.u32()))
  const meta = JSON.parse(stored.toString('utf8', 5 + payload.length)) as Record<string, unknown>
  return { ...meta, topic, payload }
}
