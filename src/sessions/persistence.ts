/**
 * The aedes persistence used in Redis modes: a thin adapter from aedes' persistence
 * interface to the sessions layer.
 *
 * Sessions live on Redis, every key of one client in one slot (`{c:<id>}`), every change
 * one Lua script fenced by the session epoch: subscriptions, the outgoing queue and
 * in-flight QoS 1/2 messages of persistent sessions, inbound QoS 2 packets, the will.
 * Clean sessions keep their in-flight state in this node's memory (it ends with the
 * connection anyway); their ownership and will are on Redis all the same.
 *
 * - ownership.ts: who owns a session, the state machine of one session (open, kicked,
 *   moved, stale, parked, adopted);
 * - subscriptions.ts: stored and mirrored subscriptions, routes held for parked sessions;
 * - outgoing.ts: the queue of QoS 1/2 messages, packet identifiers, acknowledgements,
 *   replay; hand-over of messages to a session's new owner (`forward`);
 * - gate.ts: each message once per connection, the queue before anything live;
 * - reaper.ts: a dead or leaving node's wills, sessions and journal;
 * - incoming.ts: inbound QoS 2 packets until their PUBREL;
 * - wills.ts: wills on Redis, published once.
 *
 * Retained messages are on Redis too (src/redis/retained.ts), visible from every node at once.
 */
import type { Readable } from 'node:stream'
import type { Aedes } from 'aedes'
import type { Logger } from '../logger.js'
import { MemoryStore } from '../memory-store.js'
import type { RedisClient } from '../redis/client.js'
import type { KeySpace } from '../redis/keys.js'
import type { RetainedPacket, RetainedStore } from '../redis/retained.js'
import type { Scripts } from '../redis/scripts.js'
import type { FrameOrigin } from '../routing/cluster.js'
import { DeferredDeliveries } from './deferred.js'
import { describeSession } from './describe.js'
import { DeliveryGate } from './gate.js'
import { InboundQos2 } from './incoming.js'
import { OutgoingQueue } from './outgoing.js'
import { Ownership } from './ownership.js'
import { Reaper } from './reaper.js'
import { SessionSubscriptions } from './subscriptions.js'
import type { ClientLike, ClientRef, Packet, SessionContext, SessionCounters, SessionLinks, SessionSettings, Subscription } from './types.js'
import { SessionWills } from './wills.js'

export type { ClientLike, Packet, SessionCounters, SessionLinks, SessionSettings } from './types.js'

/** How often messages kept in memory are checked for age. */
const SPILL_CHECK_MS = 250
/** A message kept in memory this long without an acknowledgement is queued on Redis. */
const SPILL_AFTER_MS = 2000

/**
 * Extends the in-memory store for what a node keeps of its own sessions' subscriptions (with
 * slotmq's topic matching) and of clean sessions' in-flight packets.
 */
export class RedisPersistence extends MemoryStore {
  readonly #ctx: SessionContext
  readonly #retained: RetainedStore
  readonly #owners: Ownership
  readonly #subs: SessionSubscriptions
  readonly #gate: DeliveryGate
  readonly #outgoing: OutgoingQueue
  readonly #wills: SessionWills
  readonly #incoming: InboundQos2
  readonly #reaper: Reaper
  readonly #deferred = new DeferredDeliveries()
  #spillTimer: NodeJS.Timeout | undefined
  #broker: Aedes | undefined
  #retainedCount = 0
  readonly counters: SessionCounters = (() => {
    const deferred = this.#deferred
    return { queueDropped: 0, staleWrites: 0, kicked: 0, deadWills: 0, adopted: 0, released: 0, spilled: 0, get inMemory () { return deferred.size } }
  })()

  constructor (deps: { redis: RedisClient, keys: KeySpace, scripts: Scripts, retained: RetainedStore, links: SessionLinks, settings: SessionSettings, log?: Logger }) {
    super()
    this.#retained = deps.retained
    this.#ctx = {
      redis: deps.redis,
      keys: deps.keys,
      scripts: deps.scripts,
      links: deps.links,
      settings: deps.settings,
      log: deps.log?.child({ module: 'sessions' }),
      counters: this.counters,
      broker: () => this.#broker
    }
    this.#subs = new SessionSubscriptions(this.#ctx, {
      add: async (client, subs) => { await super.addSubscriptions(client, subs) },
      remove: async (client, topics) => { await super.removeSubscriptions(client, topics) },
      clean: async (client) => { await super.cleanSubscriptions(client) }
    })
    this.#owners = new Ownership(this.#ctx, (clientId) => this.#subs.forget(clientId))
    this.#subs.bind(this.#owners)
    this.#gate = new DeliveryGate((client) => this.#owners.opened(client))
    this.#outgoing = new OutgoingQueue(this.#ctx, this.#owners, this.#gate, this.#deferred)
    this.#wills = new SessionWills(this.#ctx, this.#owners)
    this.#incoming = new InboundQos2(this.#ctx, this.#owners)
    this.#reaper = new Reaper(this.#ctx, {
      owners: this.#owners,
      subs: this.#subs,
      outgoing: this.#outgoing,
      wills: this.#wills,
      deferred: this.#deferred,
      match: async (topic) => await this.subscriptionsByTopic(topic) as Subscription[]
    })
  }

  override async setup (broker: Aedes): Promise<void> {
    await super.setup(broker)
    this.#broker = broker
    this.#owners.start()
    this.#spillTimer = setInterval(() => {
      this.#outgoing.spillOlder(SPILL_AFTER_MS)
        .catch((err: unknown) => this.#ctx.log?.warn({ err }, 'messages kept in memory not queued'))
    }, SPILL_CHECK_MS)
    this.#spillTimer.unref()
  }

  /** Stops the background work (the node is closing). */
  stop (): void {
    clearInterval(this.#spillTimer)
    this.#owners.stop()
  }

  /** Local time of the oldest message delivered from memory and not acknowledged yet. */
  readonly journalFloor = (): number | undefined => this.#deferred.oldest()

  /** Every message of a live frame was handled (queued, or kept in memory). */
  frameHandled (origin: FrameOrigin): void { this.#deferred.frameHandled(origin) }

  /** Peers number their frames to this node afresh (it rejoined under a new identity). */
  numberingReset (): void { this.#deferred.resetNumbering() }

  // --- ownership, hand-over, reaping (called by the broker and by peers) ----------------

  /**
   * Takes the session over for `client` (before CONNACK). What earlier connections of the
   * client id on this node hold in memory is queued on Redis first (theirs, with their
   * packet identifiers), so that the new connection's replay resends it with DUP.
   */
  async open (client: ClientLike, clean: boolean): Promise<string> {
    await Promise.all(this.#owners.connectionsOf(client.id).filter(c => c !== client).map(async c => await this.#outgoing.flush(c)))
    await this.#outgoing.settledFlushes(client.id)
    return await this.#owners.open(client, clean)
  }

  async connectionClosed (client: ClientLike): Promise<void> {
    // What it still holds in memory goes to Redis first, then the session is parked.
    await this.#outgoing.flush(client)
    await this.#owners.connectionClosed(client)
  }

  /**
   * A peer took `clientId` over: the connections here are closed, what they held in memory
   * is handed to the new owner, then the new owner gets the release (ownership.ts).
   */
  async kicked (clientId: string, epoch: string, newOwner: string): Promise<void> {
    const closed = this.#owners.kicked(clientId, epoch, newOwner)
    if (closed === undefined) return
    await Promise.all(closed.map(async conn => await this.#outgoing.flush(conn)))
    this.#ctx.links.kick(newOwner, clientId, epoch)
  }

  async handOver (peers: string[]): Promise<void> { await this.#reaper.handOver(peers) }
  adoptionConfirmed (clientId: string, sender: string): void { this.#reaper.adoptionConfirmed(clientId, sender) }
  async reapMember (dead: string, live: string[], dropRoutes?: () => Promise<void>): Promise<void> { await this.#reaper.reapMember(dead, live, dropRoutes) }
  async recovered (packet: Packet, clientId?: string, origin?: FrameOrigin): Promise<void> { await this.#reaper.recovered(packet, clientId, origin) }
  async adopted (clientId: string, epoch: string): Promise<void> { await this.#reaper.adopted(clientId, epoch) }
  async deliverDirect (clientId: string, packet: Packet): Promise<void> { await this.#outgoing.deliverDirect(clientId, packet) }
  admit (client: ClientLike, packet: Packet): boolean { return this.#gate.admit(client, packet) }
  async describe (clientId: string): Promise<Record<string, unknown> | undefined> { return await describeSession(this.#ctx, this.#owners, clientId) }
  readonly sessionPresence = (clientId: string): boolean | undefined => this.#owners.sessionPresence(clientId)
  get sessionCount (): number { return this.#owners.sessionCount }

  // --- subscriptions -----------------------------------------------------------------------

  override async addSubscriptions (client: ClientRef, subs: Subscription[]): Promise<void> { await this.#subs.add(client, subs) }
  override async removeSubscriptions (client: ClientRef, topics: string[]): Promise<void> { await this.#subs.remove(client, topics) }
  override async cleanSubscriptions (client: ClientRef): Promise<void> { await this.#subs.clean(client) }
  override async subscriptionsByClient (client: ClientRef): Promise<Subscription[]> { return await this.#subs.restore(client) }

  // --- outgoing ----------------------------------------------------------------------------

  override async outgoingEnqueue (sub: Subscription, packet: Packet): Promise<void> {
    await this.#outgoing.enqueueFor([sub], packet)
  }

  override async outgoingEnqueueCombi (subs: Subscription[], packet: Packet): Promise<void> {
    await this.#outgoing.enqueueFor(subs, packet)
  }

  /**
   * What aedes does on the publishing node, done here for a QoS 1/2 packet that came from
   * a peer: queue it for every session this node owns with a matching QoS > 0 subscription.
   */
  async enqueueRemote (packet: { topic: string } & Record<string, unknown>, origin?: FrameOrigin): Promise<void> {
    let subs = await this.subscriptionsByTopic(packet.topic) as Subscription[]
    // aedes' rule: $SYS topics are not queued for wildcard-first subscriptions.
    if (packet.topic.startsWith('$SYS/')) subs = subs.filter(s => !s.topic.startsWith('+') && !s.topic.startsWith('#'))
    // A message of a live frame is durable in this node's journal: a session connected
    // here keeps it in memory instead (deferred.ts).
    if (origin !== undefined) subs = subs.filter(s => !this.#outgoing.defer(s, packet, origin))
    if (subs.length > 0) await this.outgoingEnqueueCombi(subs, packet)
  }

  override async outgoingUpdate (client: ClientRef, packet: Packet): Promise<void> { await this.#outgoing.update(client, packet) }

  override async outgoingClearMessageId (client: ClientRef, packet: Packet | number): Promise<Packet | undefined> {
    // aedes calls this on every PUBACK/PUBCOMP; a clean session has nothing on Redis.
    if (client.clean === true) return await super.outgoingClearMessageId(client, packet)
    return await this.#outgoing.clear(client, packet)
  }

  /**
   * The queue of a session, in order. Read in rounds until a round finds nothing newer,
   * so that messages handed over by the previous owner while a resumed session replays
   * its queue are sent in order after it (later rounds skip what this connection has
   * already been sent live).
   */
  override outgoingStream (client: ClientRef): Readable {
    if (client.clean === true) return super.outgoingStream(client)
    return this.#outgoing.stream(client)
  }

  // --- inbound QoS 2 -----------------------------------------------------------------------

  override async incomingStorePacket (client: ClientRef, packet: Packet): Promise<void> {
    if (client.clean === true) return await super.incomingStorePacket(client, packet)
    await this.#incoming.store(client, packet)
  }

  override async incomingGetPacket (client: ClientRef, packet: Packet): Promise<Packet> {
    if (client.clean === true) return await super.incomingGetPacket(client, packet) as Packet
    return await this.#incoming.get(client, packet)
  }

  override async incomingDelPacket (client: ClientRef, packet: Packet): Promise<void> {
    if (client.clean === true) return await super.incomingDelPacket(client, packet)
    await this.#incoming.del(client, packet)
  }

  override async cleanIncoming (client: ClientRef): Promise<void> {
    if (client.clean === true) return await super.cleanIncoming(client)
    await this.#incoming.clean(client)
  }

  // --- wills -------------------------------------------------------------------------------

  override async putWill (client: ClientRef, packet: Packet): Promise<void> { await this.#wills.put(client, packet) }
  override async getWill (client: ClientRef): Promise<Packet | undefined> { return await this.#wills.get(client) }
  override async delWill (client: ClientRef & { brokerId?: string }): Promise<Packet | undefined> { return await this.#wills.del(client) }
  override streamWill (brokers: Record<string, unknown> = {}): Readable { return this.#wills.stream(brokers) }

  // --- retained ----------------------------------------------------------------------------

  override async storeRetained (packet: RetainedPacket): Promise<void> {
    // Stored as a copy: aedes may change the packet after this call.
    await this.#retained.store({ ...packet })
  }

  override createRetainedStreamCombi (patterns: string[]): Readable {
    return this.#retained.stream(patterns)
  }

  override createRetainedStream (pattern: string): Readable {
    return this.#retained.stream([pattern])
  }

  /** Last counted number of retained topics cluster-wide (see refreshRetainedCount). */
  get retainedCount (): number {
    return this.#retainedCount
  }

  async refreshRetainedCount (): Promise<number> {
    this.#retainedCount = await this.#retained.count()
    return this.#retainedCount
  }

  override async destroy (): Promise<void> {
    this.stop()
    await super.destroy()
  }
}
