/**
 * Wills of the sessions: stored on Redis with the session (fenced by its epoch) and
 * indexed by the broker id of the connection that left them, so that the wills of a
 * node that died are found and published, each exactly once, by its reaper.
 */
import { Readable } from 'node:stream'
import type { Aedes } from 'aedes'
import { decodeStoredPacket, encodeStoredPacket } from '../redis/codec.js'
import type { Ownership } from './ownership.js'
import type { ClientRef, Packet, SessionContext } from './types.js'

export class SessionWills {
  readonly #ctx: SessionContext
  readonly #owners: Ownership
  /** Broker ids already listed in the will-broker index. */
  readonly #willBrokers = new Set<string>()

  constructor (ctx: SessionContext, owners: Ownership) {
    this.#ctx = ctx
    this.#owners = owners
  }

  async put (client: ClientRef, packet: Packet): Promise<void> {
    const { redis, keys, scripts, links } = this.#ctx
    const brokerId = String(this.#ctx.broker()?.id ?? links.memberId())
    packet.brokerId = brokerId
    packet.clientId = client.id
    const epoch = this.#owners.epochOf(client)
    const result = await scripts.session(client.id).put(epoch, 'will', 'set', '', encodeStoredPacket(packet))
    if (result === 'stale') {
      throw this.#owners.takenOver(client.id, epoch)
    }
    if (!this.#willBrokers.has(brokerId)) {
      await redis.sadd(keys.willBrokers(), brokerId)
      this.#willBrokers.add(brokerId)
    }
    await redis.sadd(keys.wills(brokerId), client.id)
  }

  async get (client: ClientRef): Promise<Packet | undefined> {
    const stored = await this.#ctx.redis.getBuffer(this.#ctx.keys.session(client.id).will)
    return stored === null ? undefined : decodeStoredPacket(stored)
  }

  /**
   * aedes deletes a will in two places: before storing a new one at CONNECT (with the
   * connection: fenced by its epoch), and after a connection closed (with a plain
   * `{ id, brokerId }` that cannot tell an old connection from its successor, the same-node
   * takeover hazard). For a session this node owns, the second kind is left to
   * `connectionClosed`, whose script drops the will only if that connection still owns it.
   */
  async del (client: ClientRef & { brokerId?: string }): Promise<Packet | undefined> {
    if (!this.#owners.opened(client) && this.#owners.get(client.id) !== undefined) return undefined
    const will = await this.get(client)
    if (will === undefined) return undefined
    const result = await this.#ctx.scripts.session(client.id).put(this.#owners.epochOf(client), 'will', 'clear')
    if (result === 'stale') return undefined
    await this.#ctx.redis.srem(this.#ctx.keys.wills(String(will.brokerId)), client.id)
    return will
  }

  /** The wills left by connections of brokers not in `alive`. */
  stream (alive: Record<string, unknown> = {}): Readable {
    return Readable.from(this.#wills(alive))
  }

  async * #wills (alive: Record<string, unknown>): AsyncGenerator<Packet> {
    const { redis, keys } = this.#ctx
    const brokerIds = await redis.smembers(keys.willBrokers())
    for (const brokerId of brokerIds) {
      if (alive[brokerId] !== undefined) continue
      for (const clientId of await redis.smembers(keys.wills(brokerId))) {
        const will = await this.get({ id: clientId })
        if (will?.brokerId === brokerId) yield will
      }
    }
  }

  /** Publishes the will of a dead node's connection (claimed by this node's reap script). */
  publishDead (will: Packet): void {
    const broker = this.#ctx.broker()
    if (broker === undefined) return
    this.#ctx.counters.deadWills++
    const { clientId, brokerId: _b, brokerCounter: _c, messageId: _m, cmd: _cmd, ...packet } = will
    broker.publish({ cmd: 'publish', ...packet } as unknown as Parameters<Aedes['publish']>[0], (err?: Error) => {
      if (err !== undefined && err !== null) this.#ctx.log?.warn({ clientId, err }, 'will of a dead node not published')
    })
  }
}
