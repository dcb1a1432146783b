/**
 * The outgoing side of persistent sessions: each QoS 1/2 message for a session is queued
 * on Redis (fenced by the epoch, keyed by its origin so it is queued once), its packet
 * identifier recorded before it is written, and removed when acknowledged. A resumed
 * session replays its queue in order, re-deliveries with DUP [MQTT-4.4.0-1]. Writes of
 * one connection in the same turn of the event loop share one script call; a replay
 * records up to 100 identifiers per call.
 */
import { Readable } from 'node:stream'
import { sessionTakenOver } from '../errors.js'
import { decodeStoredPacket, encodeStoredPacket } from '../redis/codec.js'
import type { FrameOrigin } from '../routing/cluster.js'
import { Coalescer } from './coalesce.js'
import { encodeMark, type DeferredDeliveries, type PendingMessage } from './deferred.js'
import type { DeliveryGate } from './gate.js'
import type { Ownership } from './ownership.js'
import { capQos, noop, refOf, type ClientLike, type ClientRef, type Packet, type SessionContext, type Subscription } from './types.js'

/**
 * A connected session's mark (deferred.ts) is written at most this often, after the PUBACK
 * that made it due: if this node dies, its reaper may send again what the session's client
 * acknowledged within the last interval, never less than it has not.
 */
export const MARK_EVERY_MS = 200
/** Outgoing queue entries read per round trip when a session is resumed. */
const STREAM_BATCH = 100

/** A packet identifier a connection sent a queued message with, or had acknowledged. */
interface Written { clientId: string, epoch: string, messageId: number, ref: string }

export class OutgoingQueue {
  readonly #ctx: SessionContext
  readonly #owners: Ownership
  readonly #gate: DeliveryGate
  readonly #deferred: DeferredDeliveries
  /** Flushes in progress per client id (a new connection of the id waits for them). */
  readonly #flushing = new Map<string, Set<Promise<void>>>()
  /** Connections whose mark is due, with the timer that writes it. */
  readonly #marksDue = new Map<ClientLike, NodeJS.Timeout>()
  /** Per connection: packet identifier -> ref of the message sent with it, until acknowledged. */
  readonly #inFlight = new WeakMap<object, Map<number, string>>()
  /** Packet identifiers a replay batch recorded on Redis before aedes sends them, with refs. */
  readonly #recorded = new WeakMap<object, Map<number, string>>()
  /** Packet identifiers of live deliveries, written per connection and turn of the event loop. */
  readonly #sends: Coalescer<Written>
  /** PUBACKs, written per connection and turn of the event loop. */
  readonly #acks: Coalescer<Written>
  /** Per connection: the latest `update` not settled yet (see `update`). */
  readonly #updating = new WeakMap<object, Promise<void>>()

  constructor (ctx: SessionContext, owners: Ownership, gate: DeliveryGate, deferred: DeferredDeliveries) {
    this.#ctx = ctx
    this.#owners = owners
    this.#gate = gate
    this.#deferred = deferred
    this.#sends = new Coalescer(async (_, items) => {
      const { clientId, epoch } = items[0] as Written
      if (await ctx.scripts.session(clientId).sent(epoch, items.map(w => [w.ref, w.messageId])) === 'stale') {
        throw owners.takenOver(clientId, epoch)
      }
    })
    this.#acks = new Coalescer(async (_, items) => {
      const { clientId, epoch } = items[0] as Written
      await ctx.scripts.session(clientId).acked(epoch, ctx.settings.ackMemoryMs, items.map(w => [w.messageId, w.ref]))
    })
  }

  /** Queues `packet` for every session of `subs` (each at its subscription's QoS when forwarded). */
  async enqueueFor (subs: Subscription[], packet: Packet): Promise<void> {
    await Promise.all(subs.map(async sub => await this.#enqueueFor(sub, packet)))
  }

  /**
   * Keeps a message from a live frame in memory for a session connected here, instead of
   * queueing it on Redis (see deferred.ts): only when the connection holds its session,
   * has replayed its queue, and the message goes out at QoS 1. False when the message
   * must be queued.
   */
  defer (sub: Subscription, packet: Packet, origin: FrameOrigin): boolean {
    // QoS 1 only: a QoS 2 exchange keeps its packet identifier on Redis from the start.
    if (sub.qos === 0 || packet.qos === 0 || packet.qos === undefined || Math.min(sub.qos, Number(packet.qos)) !== 1) return false
    const clientId = String(sub.clientId)
    const owned = this.#owners.get(clientId)
    if (owned === undefined || !owned.persistent || owned.movedTo !== undefined) return false
    const client = this.#owners.connected(clientId)
    if (client === undefined || client.clean !== false || !this.#owners.holds(client) ||
      !this.#gate.replayed(client) || !this.#deferred.accepts(client)) return false
    // Handed over by the session's previous owner already: not sent twice.
    if (this.#deferred.seen(client, refOf(packet))) return true
    this.#deferred.add(client, capQos(packet, sub.qos), origin)
    return true
  }

  /**
   * The connection ended or lost its session: its messages still in memory are queued on
   * Redis under the session's epoch here (or handed to the node that owns it now), with
   * the packet identifiers they were sent with, so that the next connection gets them,
   * with DUP, before the session is parked.
   */
  async flush (client: ClientLike): Promise<void> {
    clearTimeout(this.#marksDue.get(client))
    this.#marksDue.delete(client)
    if (!this.#deferred.has(client)) return
    const pending = this.#deferred.close(client)
    const flushing = (async () => {
      await this.#spill(client, pending)
      // What it held is on Redis now: the reaper need not replay it (refused if taken over).
      await this.#mark(client)
      this.#deferred.forget(client)
    })()
    let now = this.#flushing.get(client.id)
    if (now === undefined) this.#flushing.set(client.id, now = new Set())
    now.add(flushing)
    try {
      await flushing
    } finally {
      now.delete(flushing)
      if (now.size === 0 && this.#flushing.get(client.id) === now) this.#flushing.delete(client.id)
    }
  }

  /** Settles when the flushes of `clientId`'s connections in progress are done. */
  async settledFlushes (clientId: string): Promise<void> {
    await Promise.allSettled([...(this.#flushing.get(clientId) ?? [])])
  }

  /** Messages kept in memory for longer than `ageMs` go to Redis (the journal is capped). */
  async spillOlder (ageMs: number): Promise<void> {
    for (const [client, pending] of this.#deferred.takeOlder(Date.now() - ageMs)) {
      this.#ctx.counters.spilled += pending.length
      await this.#spill(client, pending)
    }
  }

  async #spill (client: ClientLike, pending: PendingMessage[]): Promise<void> {
    if (pending.length === 0) return
    const sent: Array<[string, number]> = []
    for (const p of pending) {
      // Sent already: DUP, also when it goes to the session's new owner [MQTT-3.3.1-1].
      const packet = p.messageId === undefined ? p.packet : { ...p.packet, dup: true }
      const queued = await this.#enqueue(client.id, packet)
      if (queued && p.messageId !== undefined) sent.push([refOf(p.packet), p.messageId])
    }
    const epoch = this.#owners.epochOf({ id: client.id })
    if (sent.length > 0) await this.#ctx.scripts.session(client.id).sent(epoch, sent)
  }

  #markSoon (client: ClientLike): void {
    if (this.#marksDue.has(client)) return
    const timer = setTimeout(() => {
      this.#marksDue.delete(client)
      void this.#mark(client)
    }, MARK_EVERY_MS)
    timer.unref()
    this.#marksDue.set(client, timer)
  }

  /**
   * Writes how far this node's journal is settled for the session of `client` (deferred.ts),
   * so that what its client acknowledged is not sent again by this node's reaper if it
   * dies (see `MARK_EVERY_MS`).
   */
  async #mark (client: ClientLike): Promise<void> {
    try {
      const epoch = this.#owners.epochOf(client)
      const mark = encodeMark(this.#ctx.links.memberId(), this.#deferred.mark(client))
      if (!await this.#ctx.scripts.session(client.id).mark(epoch, mark) && this.#owners.holds(client)) this.#owners.stale(client.id, epoch)
    } catch (err) {
      this.#ctx.log?.debug({ clientId: client.id, err }, 'session mark not written')
    }
  }

  /** A QoS 1/2 message a peer forwarded for one of our sessions. */
  async deliverDirect (clientId: string, packet: Packet): Promise<void> {
    // The previous owner learns of a takeover from Redis and may hand a message over
    // before this node has the reply of its own session script: wait for it.
    await this.#owners.settledOpening(clientId)
    const owned = this.#owners.get(clientId)
    if (owned?.movedTo !== undefined) {
      // It moved on while the message was on its way: pass it along.
      this.#ctx.links.forward(owned.movedTo, clientId, packet)
      return
    }
    if (owned === undefined) {
      await this.#queueUnknown(clientId, packet)
      return
    }
    const connected = this.#owners.connected(clientId)
    // Given from memory by a live frame already (deferred.ts): not sent twice.
    if (connected !== undefined && this.#deferred.seen(connected, refOf(packet))) return
    const queued = await this.#enqueue(clientId, packet)
    if (!queued) return
    const client = this.#owners.connected(clientId)
    if (client?.deliverQoS !== undefined && this.#gate.replayed(client)) {
      this.#gate.handedOver(packet)
      this.#deferred.remember(client, refOf(packet))
      client.deliverQoS(packet, noop)
    }
  }

  /**
   * A message handed over for a session this node does not know (yet): the sender's
   * script named this node as the owner, so an adoption or a connect is on its way here.
   * Queued under the epoch Redis holds if this node owns the session there; passed on if
   * another node does; dropped if the session is gone.
   */
  async #queueUnknown (clientId: string, packet: Packet): Promise<void> {
    const [owner = null, epoch = null] = await this.#ctx.redis.hmget(this.#ctx.keys.session(clientId).meta, 'owner', 'epoch')
    if (owner === this.#ctx.links.memberId() && epoch !== null) {
      const stored = encodeStoredPacket({ ...packet, messageId: undefined })
      await this.#ctx.scripts.session(clientId).enqueue(epoch, this.#ctx.settings.queueCap, refOf(packet), stored)
    } else if (owner !== null && owner !== '' && owner !== this.#ctx.links.memberId()) {
      this.#ctx.links.forward(owner, clientId, packet)
    } else {
      this.#ctx.log?.debug({ clientId }, 'forwarded message for a session that no longer exists: dropped')
    }
  }

  async #enqueueFor (sub: Subscription, packet: Packet): Promise<void> {
    const clientId = String(sub.clientId)
    const owned = this.#owners.get(clientId)
    if (owned?.movedTo !== undefined) {
      this.#ctx.links.forward(owned.movedTo, clientId, capQos(packet, sub.qos))
      return
    }
    await this.#enqueue(clientId, packet, sub.qos)
  }

  /** Queues `packet` for a session; false when it was already queued or not ours. */
  async #enqueue (clientId: string, packet: Packet, subQos?: number): Promise<boolean> {
    const stored = encodeStoredPacket({ ...packet, messageId: undefined })
    let epoch = this.#owners.epochOf({ id: clientId })
    let result = await this.#ctx.scripts.session(clientId).enqueue(epoch, this.#ctx.settings.queueCap, refOf(packet), stored)
    if (result.status === 'stale' && result.owner === this.#ctx.links.memberId()) {
      // A newer connection of this session opened here while the script was on its way,
      // or is opening now, or opened and was refused (a newer connect elsewhere kicked it
      // before its CONNACK): queue it under the epoch this node holds now, or else the
      // one Redis holds. Whoever owns the session then, the message is in its queue, or
      // (stale again) forwarded to the node that owns it.
      await this.#owners.settledOpening(clientId)
      const now = this.#owners.epochOf({ id: clientId })
      epoch = now !== epoch ? now : (await this.#ctx.redis.hget(this.#ctx.keys.session(clientId).meta, 'epoch')) ?? epoch
      result = await this.#ctx.scripts.session(clientId).enqueue(epoch, this.#ctx.settings.queueCap, refOf(packet), stored)
      if (result.status === 'stale' && result.owner === this.#ctx.links.memberId()) {
        this.#ctx.log?.warn({ clientId, ref: refOf(packet) }, 'message for a session changing hands here twice not queued')
      }
    }
    if (result.status === 'queued') {
      if (result.dropped > 0) {
        this.#ctx.counters.queueDropped += result.dropped
        this.#ctx.log?.warn({ clientId, dropped: result.dropped, cap: this.#ctx.settings.queueCap }, 'session queue full: oldest messages dropped')
      }
      return true
    }
    if (result.status === 'stale') {
      this.#owners.stale(clientId, epoch, result.owner)
      if (result.owner !== '' && result.owner !== this.#ctx.links.memberId()) {
        this.#ctx.links.forward(result.owner, clientId, subQos === undefined ? packet : capQos(packet, subQos))
      }
    }
    return false
  }

  /**
   * Records the packet identifier a queued message goes out with, before aedes writes it:
   * a connection whose session was taken over meanwhile is refused here and sends nothing
   * more, and whoever replays the queue later sees the identifier, so a message the old
   * connection got goes to the new one with DUP [MQTT-4.4.0-1].
   */
  update (client: ClientRef, packet: Packet): Promise<void> {
    // aedes writes each packet when its update settles, so the updates of one connection
    // settle in the order aedes asked for them: each waits for the one before it to settle
    // (after its own Redis work, which stays pipelined). Otherwise a message queued while
    // the replay ran, sent live once it ended (a script call), and the next one, given from
    // memory (none), would swap places.
    const before = this.#updating.get(client)
    const run = this.#update(client, packet, before)
    this.#updating.set(client, run)
    const settled = (): void => { if (this.#updating.get(client) === run) this.#updating.delete(client) }
    run.then(settled, settled)
    return run
  }

  async #update (client: ClientRef, packet: Packet, before: Promise<void> | undefined): Promise<void> {
    // The old connection on another node may have been sent it too [MQTT-3.3.1-1].
    if (packet.cmd === 'publish' && this.#owners.mayOverlap(client)) packet.dup = true
    const ref = refOf(packet)
    const messageId = packet.messageId
    if (messageId !== undefined && this.#recorded.get(client)?.get(messageId) === ref) {
      // Recorded with its replay batch (`#recordBatch`).
      if (before !== undefined) await before.then(noop, noop)
      this.#recorded.get(client)?.delete(messageId)
      if (!this.#owners.holds(client)) throw sessionTakenOver()
      this.#sentWith(client).set(messageId, ref)
      return
    }
    const deferred = this.#deferred.get(client, ref)
    if (deferred !== undefined && messageId !== undefined && packet.cmd === 'publish') {
      // Kept in memory (deferred.ts): nothing to write while the connection holds it.
      if (before !== undefined) await before.then(noop, noop)
      if (!this.#owners.holds(client)) throw sessionTakenOver()
      deferred.messageId = messageId
      this.#sentWith(client).set(messageId, ref)
      return
    }
    const epoch = this.#owners.epochOf(client)
    if (packet.cmd === 'publish' && messageId !== undefined) {
      // Live deliveries to one connection in the same turn share one script call.
      await this.#sends.add(`${epoch} ${client.id}`, { clientId: client.id, epoch, messageId, ref })
      this.#sentWith(client).set(messageId, ref)
      // Replies come in order, but several in one read settle in the same turn.
      if (before !== undefined) await before.then(noop, noop)
      return
    }
    const result = await this.#ctx.scripts.session(client.id).update(epoch, ref, Number(packet.messageId), encodeStoredPacket(packet), this.#ctx.settings.ackMemoryMs)
    if (result === 'stale') {
      throw this.#owners.takenOver(client.id, epoch)
    }
    if (packet.cmd !== 'pubrel' && packet.messageId !== undefined) this.#sentWith(client).set(packet.messageId, ref)
    // Gone from the queue (acknowledged meanwhile, or dropped by the cap): sent anyway,
    // untracked; aedes would close the connection on an error here.
    if (result === 'missing') this.#ctx.log?.debug({ clientId: client.id, messageId: packet.messageId }, 'sent message no longer queued')
    if (before !== undefined) await before.then(noop, noop)
  }

  /** Refs of the messages sent to one connection, by packet identifier, until acknowledged. */
  #sentWith (client: ClientRef): Map<number, string> {
    let refs = this.#inFlight.get(client)
    if (refs === undefined) this.#inFlight.set(client, refs = new Map())
    return refs
  }

  async clear (client: ClientRef, packet: Packet | number): Promise<Packet | undefined> {
    const messageId = typeof packet === 'number' ? packet : packet.messageId
    if (messageId === undefined) return undefined
    const refs = this.#inFlight.get(client)
    const ref = refs?.get(messageId) ?? ''
    refs?.delete(messageId)
    if (typeof packet === 'object' && packet.cmd === 'puback' && this.#deferred.get(client, ref) !== undefined) {
      this.#deferred.acked(client, ref)
      this.#markSoon(client as ClientLike)
      return undefined
    }
    if (typeof packet === 'object' && packet.cmd === 'puback') {
      // PUBACKs of one connection read in the same turn share one script call; aedes only
      // passes the removed packet on to its 'ack' event, which slotmq does not use.
      const epoch = this.#owners.epochOf(client)
      await this.#acks.add(`${epoch} ${client.id}`, { clientId: client.id, epoch, messageId, ref })
      return undefined
    }
    const removed = await this.#ctx.scripts.session(client.id).clear(this.#owners.epochOf(client), messageId, this.#ctx.settings.ackMemoryMs, ref)
    if (removed === null) return undefined
    return { ...decodeStoredPacket(removed), messageId }
  }

  /**
   * The queue of a session, in order. Read in rounds until a round finds nothing newer,
   * so that messages handed over by the previous owner while a resumed session replays
   * its queue are sent in order after it (later rounds skip what this connection has
   * already been sent live).
   */
  stream (client: ClientRef): Readable {
    return Readable.from(this.#replay(client))
  }

  async * #replay (client: ClientRef): AsyncGenerator<Packet> {
    const id = client.id
    const replaying = this.#owners.opened(client)
    try {
      const k = this.#ctx.keys.session(id)
      let after = '-inf'
      let lastRead = false
      let releaseAwaited = false
      for (let round = 0; ; round++) {
        if (replaying && !this.#owners.holds(client)) return
        const entries = await this.#ctx.redis.zrangebyscore(k.queue, after, '+inf', 'WITHSCORES')
        if (entries.length === 0) {
          if (!replaying || lastRead) return
          if (!releaseAwaited && this.#owners.mayOverlap(client)) {
            // Taken from a live node: what its connection held comes before the release
            // (queued here meanwhile), so it is replayed in order before live messages.
            releaseAwaited = true
            await this.#owners.released(client)
            continue
          }
          // Live delivery starts now; one more read catches what was queued after the
          // previous read and whose live copy was held back for the replay meanwhile.
          this.#gate.startLive(client)
          lastRead = true
          continue
        }
        after = `(${String(entries[entries.length - 1])}`
        const refs = entries.filter((_, i) => i % 2 === 0)
        for (let i = 0; i < refs.length; i += STREAM_BATCH) {
          const batch = refs.slice(i, i + STREAM_BATCH)
          const values = await this.#ctx.redis.hmgetBuffer(k.out, ...batch.flatMap(ref => ['p' + ref, 'r' + ref]))
          const packets: Packet[] = []
          for (let j = 0; j < batch.length; j++) {
            const stored = values[2 * j]
            if (stored === null || stored === undefined) continue
            const messageId = values[2 * j + 1]
            // Later rounds: only what the previous owner handed over meanwhile, not what
            // this connection was sent live (it has a packet identifier by then).
            if (round > 0 && messageId !== null && messageId !== undefined) continue
            const packet = decodeStoredPacket(stored)
            if (lastRead && this.#gate.sentLiveDuringLastRead(client, packet)) continue
            if (replaying) this.#gate.markSent(client, packet)
            if (messageId !== null && messageId !== undefined) {
              // Sent before with this identifier: to a connection, a re-delivery [MQTT-3.3.1-1].
              packet.messageId = Number(messageId.toString())
              if (replaying && packet.cmd === 'publish') packet.dup = true
            }
            packets.push(packet)
          }
          if (replaying && !await this.#recordBatch(client, packets)) return
          for (const packet of packets) {
            if (replaying && !this.#owners.holds(client)) return
            yield packet
          }
        }
        if (!replaying) return
      }
    } finally {
      if (replaying) this.#gate.endReplay(client)
    }
  }

  /**
   * Gives the messages of one replay batch their packet identifiers and records them on
   * Redis in one fenced call, before any of them is written (what `outgoingUpdate` does
   * for one message): a later owner replaying the queue sends them with DUP. aedes keeps
   * an identifier a packet already has, and `outgoingUpdate` then skips the script for
   * it. False when the session was taken over: the replay stops.
   */
  async #recordBatch (client: ClientRef, packets: Packet[]): Promise<boolean> {
    const pairs: Array<[string, number]> = []
    const recorded = this.#preRecorded(client)
    for (const packet of packets) {
      if (packet.cmd !== 'publish') continue
      packet.messageId ??= nextMessageId(client)
      pairs.push([refOf(packet), packet.messageId])
      recorded.set(packet.messageId, refOf(packet))
    }
    if (pairs.length === 0) return true
    if (!this.#owners.holds(client)) return false
    const epoch = this.#owners.epochOf(client)
    if (await this.#ctx.scripts.session(client.id).sent(epoch, pairs) !== 'stale') return true
    this.#owners.stale(client.id, epoch)
    return false
  }

  #preRecorded (client: ClientRef): Map<number, string> {
    let recorded = this.#recorded.get(client)
    if (recorded === undefined) this.#recorded.set(client, recorded = new Map())
    return recorded
  }
}

/**
 * The next packet identifier of a connection, taken from the counter aedes' own QoS
 * packets take theirs from (1..65535, wrapping), so that both never hand out the same one.
 */
function nextMessageId (client: ClientRef): number {
  const counter = client as ClientRef & { _nextId?: number }
  const id = counter._nextId ?? 1
  counter._nextId = id >= 65535 ? 1 : id + 1
  return id
}
