/**
 * Inbound QoS 2 of persistent sessions: a PUBLISH received and PUBREC'd is kept on Redis
 * (fenced by the epoch) until its PUBREL, so that a session resumed on another node still
 * completes the exchange exactly once.
 */
import { decodeStoredPacket, encodeStoredPacket } from '../redis/codec.js'
import type { Ownership } from './ownership.js'
import type { ClientRef, Packet, SessionContext } from './types.js'

export class InboundQos2 {
  readonly #ctx: SessionContext
  readonly #owners: Ownership

  constructor (ctx: SessionContext, owners: Ownership) {
    this.#ctx = ctx
    this.#owners = owners
  }

  async store (client: ClientRef, packet: Packet): Promise<void> {
    const epoch = this.#owners.epochOf(client)
    const result = await this.#ctx.scripts.session(client.id).put(epoch, 'incoming', 'hset', String(packet.messageId), encodeStoredPacket(packet))
    if (result === 'stale') {
      throw this.#owners.takenOver(client.id, epoch)
    }
  }

  async get (client: ClientRef, packet: Packet): Promise<Packet> {
    const stored = await this.#ctx.redis.hgetBuffer(this.#ctx.keys.session(client.id).incoming, String(packet.messageId))
    if (stored === null) throw new Error('no such packet')
    return { ...decodeStoredPacket(stored), messageId: packet.messageId }
  }

  async del (client: ClientRef, packet: Packet): Promise<void> {
    const epoch = this.#owners.epochOf(client)
    const result = await this.#ctx.scripts.session(client.id).put(epoch, 'incoming', 'hdel', String(packet.messageId))
    if (result === 'missing') throw new Error('no such packet')
    if (result === 'stale') this.#owners.stale(client.id, epoch)
  }

  async clean (client: ClientRef): Promise<void> {
    await this.#ctx.scripts.session(client.id).put(this.#owners.epochOf(client), 'incoming', 'clear')
  }
}
