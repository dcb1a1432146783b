/**
 * The aedes persistence used in Redis modes.
 *
 * Sessions live on Redis, every key of one client in one slot (`{c:<id>}`), every change
 * one Lua script fenced by the session epoch: subscriptions, the outgoing queue and
 * in-flight QoS 1/2 messages of persistent sessions, inbound QoS 2 packets, the will.
 * Clean sessions keep their in-flight state in this node's memory (it ends with the
 * connection anyway); their ownership and will are on Redis all the same.
 *
 * Ownership: `open` (called before CONNACK) takes the session over and returns the
 * previous owner, which is told to close its connection (`kick`). A node keeps in memory
 * only the sessions it owns, connected or parked: their subscriptions answer
 * `subscriptionsByTopic` (who to queue a message for) and their QoS > 0 filters hold a
 * route, so publishes made anywhere reach the owner of a parked session. A write that
 * finds a newer epoch changes nothing; this node then lets go of the session and sends
 * what it was about to queue to the new owner (`forward`), which queues it once (a queued
 * message is keyed by its origin broker id and counter).
 *
 * Retained messages are on Redis too (retained.ts), visible from every node at once.
 */
import { Readable } from 'node:stream'
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js'
import { Qlobber } from 'qlobber'
import { sessionTakenOver } from '../errors.js'
import { filterSees, TOPIC_MATCHING } from '../topics.js'
import type { Aedes } from 'aedes'
import type { Logger } from '../logger.js'
import type { RedisClient } from './client.js'
import { decodeStoredPacket, encodeStoredPacket } from './codec.js'
import { Coalescer } from './coalesce.js'
import type { KeySpace } from './keys.js'
import type { RetainedPacket, RetainedStore } from './retained.js'
import type { Scripts } from './scripts.js'

export interface HeldRoutes {
  /** Resolves once the peers route `filter` here (or stopped waiting for them). */
  hold: (filter: string) => Promise<void>
  release: (filter: string) => void
}

/** What the persistence needs from the cluster: identity and two messages to peers. */
export interface SessionLinks extends HeldRoutes {
  memberId: () => string
  /** Tells `owner` to close its connection of `clientId` unless it is newer than `epoch`. */
  kick: (owner: string, clientId: string, epoch: string) => void
  /** Hands a QoS 1/2 message for one session to the node that owns it now. */
  forward: (owner: string, clientId: string, packet: Packet) => void
  /** Tells `owner` it now owns `clientId`'s parked session. */
  adopt: (owner: string, clientId: string, epoch: string) => void
  /** The QoS 1/2 messages sent to a member that its reaper must replay. */
  journal: (memberId: string) => AsyncIterable<{ message: Packet, clientId?: string }>
  dropJournal: (memberId: string) => Promise<void>
}

export interface SessionSettings {
  /** Outgoing queue cap per session; the oldest entries are dropped beyond it. */
  queueCap: number
  /** A parked persistent session is deleted this long after its client left. */
  expiryMs: number
  /**
   * How long a session remembers the messages its client acknowledged: longer than a dead
   * node's journal can hold them (its retention plus the time to reap it), so replaying
   * the journal to the session does not send them again.
   */
  ackMemoryMs: number
}

export interface SessionCounters {
  /** Queued messages dropped because a queue was full. */
  queueDropped: number
  /** Writes refused because another connection owned the session. */
  staleWrites: number
  /** Connections closed because another node took their session over. */
  kicked: number
  /** Wills of dead nodes' connections this node published as their reaper. */
  deadWills: number
  /** Parked sessions this node adopted from dead nodes. */
  adopted: number
}

interface Subscription { topic: string, qos: number, clientId?: string, [field: string]: unknown }
interface ClientRef { id: string, clean?: boolean }
export type Packet = Record<string, unknown> & { topic?: string, messageId?: number | undefined }

/** A packet identifier a connection sent a queued message with, or had acknowledged. */
interface Written { clientId: string, epoch: string, messageId: number, ref: string }

interface OwnedSession {
  epoch: string
  persistent: boolean
  /** Set once another node took the session over: where late messages go. */
  movedTo?: string
  dropTimer?: NodeJS.Timeout
  /** Parked (no connection here): when Redis expires it, unless a client resumes it. */
  parkedUntil?: number
}

/** How long a node that lost a session keeps forwarding what still arrives for it. */
const MOVED_GRACE_MS = 5000
/** Longest time between two checks for expired parked sessions. */
const EXPIRY_CHECK_MS = 30_000
/** Session ids of a dead member claimed per SSCAN round. */
const REAP_BATCH = 100
/** A stopping node waits at most this long for its adopters to confirm their adoptions. */
const HANDOVER_CONFIRM_MS = 3000
/** Message refs remembered per connection to drop duplicate sends during a move. */
const SENT_MEMORY = 10_000
/** Outgoing queue entries read per round trip when a session is resumed. */
const STREAM_BATCH = 100

const noop = (): void => {}

export class RedisPersistence extends MemoryPersistence {
  readonly #redis: RedisClient
  readonly #keys: KeySpace
  readonly #scripts: Scripts
  readonly #retained: RetainedStore
  readonly #links: SessionLinks
  readonly #settings: SessionSettings
  readonly #log: Logger | undefined
  #broker: Aedes | undefined
  /** Sessions this node owns (connected or parked). */
  readonly #owned = new Map<string, OwnedSession>()
  /** The epoch each connection was opened with. */
  readonly #connEpoch = new WeakMap<object, string>()
  /** Connections per client id on this node that opened a session and are not closed. */
  readonly #conns = new Map<string, Set<ClientLike>>()
  /** Filters each session holds a route for (its QoS > 0 subscriptions). */
  readonly #held = new Map<string, Set<string>>()
  /** Message refs each connection has been sent (live or replayed), to send each once. */
  readonly #sent = new WeakMap<object, Set<string>>()
  /** Client ids whose session script is on its way, and kicks that arrived meanwhile. */
  readonly #opening = new Map<string, number>()
  readonly #kickedWhileOpening = new Map<string, string>()
  /** Settles when the latest session script of a client id on its way here is back. */
  readonly #openingNow = new Map<string, Promise<void>>()
  /** Session closes in progress (a graceful stop waits for them). */
  readonly #closing = new Set<Promise<void>>()
  /** Connections that have replayed their queue (until then, handed-over messages wait in it). */
  readonly #replayed = new WeakSet<object>()
  /**
   * Connections between the end of their replay and its last read: refs sent live meanwhile,
   * which that read must not send again.
   */
  readonly #liveDuringLastRead = new WeakMap<object, Set<string>>()
  /** Per connection: packet identifier -> ref of the message sent with it, until acknowledged. */
  readonly #inFlight = new WeakMap<object, Map<number, string>>()
  /** Packet identifiers a replay batch recorded on Redis before aedes sends them, with refs. */
  readonly #recorded = new WeakMap<object, Map<number, string>>()
  /** Packet identifiers of live deliveries, written per connection and turn of the event loop. */
  readonly #sends: Coalescer<Written>
  /** PUBACKs, written per connection and turn of the event loop. */
  readonly #acks: Coalescer<Written>
  /** Messages handed over for one session and given to its connection (see `admit`). */
  readonly #handedOver = new WeakSet<object>()
  /** Session Present answer for the CONNACK being built, per client id. */
  readonly #present = new Map<string, boolean>()
  /** Broker ids already listed in the will-broker index. */
  readonly #willBrokers = new Set<string>()
  #retainedCount = 0
  #expiryTimer: NodeJS.Timeout | undefined
  /** Sessions this stopping node handed over, by adopter, not yet confirmed. */
  readonly #unconfirmed = new Map<string, string>()
  #allConfirmed: (() => void) | undefined
  readonly counters: SessionCounters = { queueDropped: 0, staleWrites: 0, kicked: 0, deadWills: 0, adopted: 0 }

  constructor (deps: { redis: RedisClient, keys: KeySpace, scripts: Scripts, retained: RetainedStore, links: SessionLinks, settings: SessionSettings, log?: Logger }) {
    super()
    this.#redis = deps.redis
    this.#keys = deps.keys
    this.#scripts = deps.scripts
    this.#retained = deps.retained
    this.#links = deps.links
    this.#settings = deps.settings
    this.#log = deps.log?.child({ module: 'sessions' })
    this.#sends = new Coalescer(async (_, items) => {
      const { clientId, epoch } = items[0] as Written
      if (await this.#scripts.session(clientId).sent(epoch, items.map(w => [w.ref, w.messageId])) === 'stale') {
        throw this.#takenOver(clientId, epoch)
      }
    })
    this.#acks = new Coalescer(async (_, items) => {
      const { clientId, epoch } = items[0] as Written
      await this.#scripts.session(clientId).acked(epoch, this.#settings.ackMemoryMs, items.map(w => [w.messageId, w.ref]))
    })
  }

  override async setup (broker: Aedes): Promise<void> {
    await super.setup(broker)
    this.#broker = broker
    this.#expiryTimer = setInterval(() => { void this.#forgetExpired() }, Math.min(this.#settings.expiryMs / 2, EXPIRY_CHECK_MS))
    this.#expiryTimer.unref()
  }

  /** Stops the background work (the node is closing). */
  stop (): void {
    clearInterval(this.#expiryTimer)
    for (const s of this.#owned.values()) if (s.dropTimer !== undefined) clearTimeout(s.dropTimer)
  }

  /**
   * Parked sessions expire in Redis (key expiry); this node then lets go of what it kept
   * for them: subscriptions in memory and held routes.
   */
  async #forgetExpired (): Promise<void> {
    const now = Date.now()
    const due = [...this.#owned].filter(([, s]) => s.parkedUntil !== undefined && s.parkedUntil <= now && s.movedTo === undefined)
    for (const [clientId, owned] of due) {
      try {
        const [owner, ttl] = await Promise.all([
          this.#redis.hget(this.#keys.session(clientId).meta, 'owner'),
          this.#redis.pttl(this.#keys.session(clientId).meta)
        ])
        if (this.#owned.get(clientId) !== owned || owned.parkedUntil === undefined) continue
        if (owner === this.#links.memberId() && ttl > 0) {
          owned.parkedUntil = Date.now() + ttl
          continue
        }
        this.#owned.delete(clientId)
        this.#forgetLocal(clientId)
        await this.#redis.srem(this.#keys.sessionsOf(this.#links.memberId()), clientId)
        this.#log?.debug({ clientId }, 'parked session expired')
      } catch (err) {
        this.#log?.debug({ err, clientId }, 'parked session expiry not checked')
      }
    }
  }

  // --- ownership -------------------------------------------------------------------------

  /**
   * Takes the session of `client` over for this node (before CONNACK). Returns the epoch;
   * the previous owner, if another node, is told to close its connection.
   */
  async open (client: ClientLike, clean: boolean): Promise<string> {
    const id = client.id
    const me = this.#links.memberId()
    this.#opening.set(id, (this.#opening.get(id) ?? 0) + 1)
    let result
    try {
      const opening = this.#scripts.session(id).open(me, clean, !clean)
      this.#openingNow.set(id, opening.then(noop, noop))
      result = await opening
    } finally {
      const n = (this.#opening.get(id) ?? 1) - 1
      if (n === 0) {
        this.#opening.delete(id)
        this.#openingNow.delete(id)
      } else {
        this.#opening.set(id, n)
      }
    }
    // A newer connect elsewhere may have kicked this one while its script was on its way.
    const kick = this.#kickedWhileOpening.get(id)
    if (kick !== undefined && Number(kick) > Number(result.epoch)) {
      if (!this.#opening.has(id)) this.#kickedWhileOpening.delete(id)
      this.counters.kicked++
      throw sessionTakenOver()
    }
    if (!this.#opening.has(id)) this.#kickedWhileOpening.delete(id)
    this.#connEpoch.set(client, result.epoch)
    let conns = this.#conns.get(id)
    if (conns === undefined) this.#conns.set(id, conns = new Set())
    conns.add(client)
    const prior = this.#owned.get(id)
    if (prior?.dropTimer !== undefined) clearTimeout(prior.dropTimer)
    // A persistent session this node held until another took it keeps its subscriptions
    // and routes here until aedes restores them from Redis (subscriptionsByClient): a
    // message arriving meanwhile is still queued for it, not dropped for want of a match.
    if (prior !== undefined && clean) this.#forgetLocal(id)
    this.#owned.set(id, { epoch: result.epoch, persistent: !clean })
    this.#present.set(id, result.present)
    if (result.previousOwner !== '' && result.previousOwner !== me) {
      this.#links.kick(result.previousOwner, id, result.epoch)
    }
    // The reaper of this node finds the session (and its will) through this index. The
    // previous owner's index keeps the id until that node lets the session go: if it died,
    // its reaper still hands the messages it had not queued to us.
    await this.#redis.sadd(this.#keys.sessionsOf(me), id)
    this.#log?.debug({ clientId: id, epoch: result.epoch, previousOwner: result.previousOwner, present: result.present }, 'session opened')
    return result.epoch
  }

  /** A connection ended (any reason): parks or deletes its session if it still owns it. */
  async connectionClosed (client: ClientLike): Promise<void> {
    const closing = this.#closeSession(client)
    this.#closing.add(closing)
    try {
      await closing
    } finally {
      this.#closing.delete(closing)
    }
  }

  /**
   * Graceful stop (after every client was closed): the sessions parked here are adopted
   * by `peers` as the reaper of a dead node would, so they keep being queued for.
   */
  async handOver (peers: string[]): Promise<void> {
    await new Promise(resolve => setImmediate(resolve))
    await Promise.allSettled([...this.#closing])
    if (peers.length === 0) return
    // Everything that reached this node was queued before it stopped: no journal replay.
    // Until each adopter has the session loaded and routed to it, this node still queues
    // for it (its scripts then name the adopter, so what arrives is forwarded there).
    const confirmed = new Promise<void>(resolve => { this.#allConfirmed = resolve })
    await this.reapMember(this.#links.memberId(), peers)
    if (this.#unconfirmed.size === 0) return
    const timer = setTimeout(() => this.#allConfirmed?.(), HANDOVER_CONFIRM_MS)
    await confirmed
    clearTimeout(timer)
    if (this.#unconfirmed.size > 0) this.#log?.warn({ unconfirmed: this.#unconfirmed.size }, 'sessions handed over without their adopters\' confirmation')
  }

  /** `sender` confirmed it loaded `clientId`'s session, handed over by this node, and holds its routes. */
  adoptionConfirmed (clientId: string, sender: string): void {
    if (this.#unconfirmed.get(clientId) !== sender) return
    this.#unconfirmed.delete(clientId)
    if (this.#unconfirmed.size === 0) this.#allConfirmed?.()
  }

  async #closeSession (client: ClientLike): Promise<void> {
    const epoch = this.#connEpoch.get(client)
    if (epoch === undefined) return
    const conns = this.#conns.get(client.id)
    conns?.delete(client)
    if (conns?.size === 0) this.#conns.delete(client.id)
    const owned = this.#owned.get(client.id)
    if (owned?.epoch !== epoch) return
    const outcome = await this.#scripts.session(client.id).close(epoch, this.#settings.expiryMs)
    const current = this.#owned.get(client.id)
    if (current?.epoch !== epoch) return
    if (outcome === 'parked') {
      current.parkedUntil = Date.now() + this.#settings.expiryMs
      return
    }
    if (outcome === 'stale') {
      // Taken over elsewhere before the kick got here: keep forwarding what still arrives
      // for it, as after a kick (the enqueue scripts name the new owner).
      this.#moved(client.id, current, undefined)
      return
    }
    // A clean session ended: nothing of it stays here.
    this.#forgetLocal(client.id)
    this.#owned.delete(client.id)
    await this.#redis.srem(this.#keys.sessionsOf(this.#links.memberId()), client.id)
  }

  /**
   * This node reaped `dead`: publishes the wills of the connections it served (each
   * claimed by one script: published once) and has its persistent sessions adopted by the
   * live members, spread by client id; other sessions are deleted. Then (`dropRoutes`
   * given) the QoS 1/2 messages in the dead node's journal go to the new owners of its
   * sessions, adopted or reconnected elsewhere meanwhile: what it had queued already is
   * recognised and not queued twice; what it had delivered may be delivered again.
   */
  async reapMember (dead: string, live: string[], dropRoutes?: () => Promise<void>): Promise<void> {
    const replay = dropRoutes !== undefined
    const index = this.#keys.sessionsOf(dead)
    const me = this.#links.memberId()
    // Persistent sessions the dead node held, by their owner now (adopter, or the node the
    // client reconnected to), with their subscriptions: the journal is replayed to them.
    const heirs = new Qlobber<{ clientId: string, qos: number, filter: string }>(TOPIC_MATCHING)
    const owners = new Map<string, string>()
    let cursor = '0'
    let wills = 0
    let adopted = 0
    do {
      const [next, ids] = await this.#redis.sscan(index, cursor, 'COUNT', REAP_BATCH)
      cursor = next
      await Promise.all(ids.map(async (id) => {
        const adopter = pickMember(live, id)
        const result = await this.#scripts.session(id).reap(dead, adopter, this.#settings.expiryMs)
        if (result.will !== null) {
          wills++
          this.#publishWill(decodeStoredPacket(result.will))
        }
        if (result.outcome === 'deleted') return
        if (result.outcome === 'adopted') {
          adopted++
          // Told at once, ahead of any message this node forwards to it for the session.
          if (adopter !== me) {
            if (dead === me) this.#unconfirmed.set(id, adopter)
            this.#links.adopt(adopter, id, result.epoch)
          }
          await this.#redis.sadd(this.#keys.sessionsOf(adopter), id)
          if (adopter === me) await this.adopted(id, result.epoch)
        }
        if (!replay) return
        const owner = result.outcome === 'adopted' ? adopter : await this.#redis.hget(this.#keys.session(id).meta, 'owner')
        if (owner === null || owner === dead) return
        owners.set(id, owner)
        for (const sub of await this.#storedSubscriptions(id)) {
          if (sub.qos > 0) heirs.add(sub.topic, { clientId: id, qos: sub.qos, filter: sub.topic })
        }
      }))
    } while (cursor !== '0')
    let replayed = 0
    await dropRoutes?.()
    if (replay && owners.size > 0) {
      for await (const entry of this.#links.journal(dead)) {
        const topic = String(entry.message.topic)
        const targets = entry.clientId === undefined
          ? heirs.match(topic).filter(h => filterSees(h.filter, topic))
          : [{ clientId: entry.clientId, qos: 2 }]
        for (const target of targets) {
          const owner = owners.get(target.clientId)
          if (owner === undefined) continue
          replayed++
          const packet = capQos(entry.message, target.qos)
          if (owner === me) await this.deliverDirect(target.clientId, packet)
          else this.#links.forward(owner, target.clientId, packet)
        }
      }
    }
    await Promise.all([this.#redis.del(index), this.#links.dropJournal(dead)])
    this.#log?.info({ memberId: dead, wills, adopted, replayed }, 'dead node settled: wills published, parked sessions adopted, journal replayed')
  }

  /**
   * A QoS 1/2 message this node may have missed (its inbox was down): queued for its
   * sessions that match and do not have it yet, and sent to them if connected.
   */
  async recovered (packet: Packet, clientId?: string): Promise<void> {
    if (clientId !== undefined) return await this.deliverDirect(clientId, packet)
    const topic = String(packet.topic)
    const subs = await this.subscriptionsByTopic(topic) as Subscription[]
    await Promise.all(subs.filter(s => s.qos > 0 && filterSees(s.topic, topic)).map(async s => await this.deliverDirect(String(s.clientId), capQos(packet, s.qos))))
  }

  /** A parked session this node now owns (adopted from a dead node): load and hold it. */
  async adopted (clientId: string, epoch: string): Promise<void> {
    const owned = this.#owned.get(clientId)
    if (owned !== undefined && Number(owned.epoch) >= Number(epoch)) return
    if (owned?.dropTimer !== undefined) clearTimeout(owned.dropTimer)
    this.#forgetLocal(clientId)
    const adoptedSession: OwnedSession = { epoch, persistent: true, parkedUntil: Date.now() + this.#settings.expiryMs }
    this.#owned.set(clientId, adoptedSession)
    this.counters.adopted++
    const [subs, ttl] = await Promise.all([this.#storedSubscriptions(clientId), this.#redis.pttl(this.#keys.session(clientId).meta)])
    if (ttl > 0) adoptedSession.parkedUntil = Date.now() + ttl
    if (this.#owned.get(clientId)?.epoch !== epoch) return
    const routed: Array<Promise<void>> = []
    await this.#mirror({ id: clientId }, subs, routed)
    await Promise.all(routed)
  }

  #publishWill (will: Packet): void {
    const broker = this.#broker
    if (broker === undefined) return
    this.counters.deadWills++
    const { clientId, brokerId: _b, brokerCounter: _c, messageId: _m, cmd: _cmd, ...packet } = will
    broker.publish({ cmd: 'publish', ...packet } as unknown as Parameters<Aedes['publish']>[0], (err?: Error) => {
      if (err !== undefined && err !== null) this.#log?.warn({ clientId, err }, 'will of a dead node not published')
    })
  }

  /** A peer took `clientId` over with `epoch`: close older connections, hand over. */
  kicked (clientId: string, epoch: string, newOwner: string): void {
    if (this.#opening.has(clientId)) {
      const known = this.#kickedWhileOpening.get(clientId)
      if (known === undefined || Number(known) < Number(epoch)) this.#kickedWhileOpening.set(clientId, epoch)
    }
    for (const conn of [...(this.#conns.get(clientId) ?? [])]) {
      if (Number(this.#connEpoch.get(conn) ?? 0) < Number(epoch)) {
        this.counters.kicked++
        this.#log?.info({ clientId, newOwner }, 'session taken over by another node: closing the connection')
        this.#conns.get(clientId)?.delete(conn)
        conn.close()
      }
    }
    const owned = this.#owned.get(clientId)
    if (owned !== undefined && Number(owned.epoch) < Number(epoch)) this.#moved(clientId, owned, newOwner)
  }

  /** A QoS 1/2 message a peer forwarded for one of our sessions. */
  async deliverDirect (clientId: string, packet: Packet): Promise<void> {
    // The previous owner learns of a takeover from Redis and may hand a message over
    // before this node has the reply of its own session script: wait for it.
    await this.#openingNow.get(clientId)
    const owned = this.#owned.get(clientId)
    if (owned?.movedTo !== undefined) {
      // It moved on while the message was on its way: pass it along.
      this.#links.forward(owned.movedTo, clientId, packet)
      return
    }
    if (owned === undefined) {
      await this.#queueUnknown(clientId, packet)
      return
    }
    const queued = await this.#enqueue(clientId, packet)
    if (!queued) return
    const client = this.#connected(clientId)
    if (client?.deliverQoS !== undefined && this.#replayed.has(client)) {
      this.#handedOver.add(packet)
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
    const [owner = null, epoch = null] = await this.#redis.hmget(this.#keys.session(clientId).meta, 'owner', 'epoch')
    if (owner === this.#links.memberId() && epoch !== null) {
      const stored = encodeStoredPacket({ ...packet, messageId: undefined })
      await this.#scripts.session(clientId).enqueue(epoch, this.#settings.queueCap, refOf(packet), stored)
    } else if (owner !== null && owner !== '' && owner !== this.#links.memberId()) {
      this.#links.forward(owner, clientId, packet)
    } else {
      this.#log?.debug({ clientId }, 'forwarded message for a session that no longer exists: dropped')
    }
  }

  /**
   * Called by the connection's delivery function for each QoS 1/2 message about to be
   * written to it (after the in-flight window let it through); false holds it back:
   * - it was already sent to this connection from the queue or by the previous owner's
   *   hand-over (while a session moves, one message can arrive by more than one of these
   *   ways, and is sent once; live copies are not remembered, so overlapping
   *   subscriptions still get one copy each);
   * - the connection's queue replay has not ended: the message is queued already, and the
   *   replay sends it in its place, so messages queued earlier are not overtaken
   *   (ordered topics, [MQTT-4.6.0-6]).
   * A message handed over (`deliverDirect`) is remembered as sent here, when it really
   * goes out: a window that held it must not find it "already sent" when it lets it go.
   */
  admit (client: ClientLike, packet: Packet): boolean {
    if (packet.brokerId === undefined || packet.brokerId === null) return true
    if (this.#sent.get(client)?.has(refOf(packet)) === true) return false
    if (client.clean === false && this.#connEpoch.has(client)) {
      if (!this.#replayed.has(client)) return false
      this.#liveDuringLastRead.get(client)?.add(refOf(packet))
    }
    if (this.#handedOver.has(packet)) this.#markSent(client, packet)
    return true
  }

  /**
   * Whether `client` still holds its session here: not kicked, not closed, not moved.
   * A connection that lost it stops replaying at once (its writes would all be refused,
   * and its reads would compete with the new owner's).
   */
  #holds (client: ClientRef): boolean {
    const epoch = this.#connEpoch.get(client)
    const owned = this.#owned.get(client.id)
    return epoch !== undefined && owned?.epoch === epoch && owned.movedTo === undefined &&
      this.#conns.get(client.id)?.has(client as ClientLike) === true
  }

  #markSent (client: object, packet: Packet): void {
    let sent = this.#sent.get(client)
    if (sent === undefined) this.#sent.set(client, sent = new Set())
    if (sent.size >= SENT_MEMORY) sent.clear()
    sent.add(refOf(packet))
  }

  /** What GET /sessions/<id> shows: the session as stored on Redis (no payloads). */
  async describe (clientId: string): Promise<Record<string, unknown> | undefined> {
    const k = this.#keys.session(clientId)
    const [meta, subs, queued, incoming, will, ttl] = await Promise.all([
      this.#redis.hgetall(k.meta),
      this.#redis.hgetall(k.subs),
      this.#redis.zcard(k.queue),
      this.#redis.hlen(k.incoming),
      this.#redis.exists(k.will),
      this.#redis.pttl(k.meta)
    ])
    if (meta.owner === undefined) return undefined
    const owner = meta.owner
    return {
      clientId,
      owner,
      epoch: meta.epoch,
      persistent: meta.persistent === '1',
      connected: meta.parked !== '1',
      ...(owner === this.#links.memberId() ? { connectedHere: this.#connected(clientId) !== undefined } : {}),
      expiresInMs: ttl > 0 ? ttl : null,
      subscriptions: Object.entries(subs).map(([topic, json]) => ({ topic, ...(JSON.parse(json) as object) })),
      queued,
      inboundQos2: incoming,
      will: will === 1
    }
  }

  /** Session Present for the CONNACK being written to `clientId` (read once). */
  readonly sessionPresence = (clientId: string): boolean | undefined => {
    const present = this.#present.get(clientId)
    this.#present.delete(clientId)
    return present
  }

  /** Persistent sessions this node owns (connected or parked). */
  get sessionCount (): number {
    let n = 0
    for (const s of this.#owned.values()) if (s.persistent && s.movedTo === undefined) n++
    return n
  }

  /**
   * Another node owns the session now (`newOwner`, or unknown yet): keep its subscriptions
   * for a grace period, so that messages still routed here reach the new owner, then
   * forget it.
   */
  #moved (clientId: string, owned: OwnedSession, newOwner: string | undefined): void {
    if (newOwner !== undefined) owned.movedTo = newOwner
    if (owned.dropTimer !== undefined) return
    owned.dropTimer = setTimeout(() => {
      if (this.#owned.get(clientId) !== owned) return
      this.#owned.delete(clientId)
      this.#forgetLocal(clientId)
      this.#redis.srem(this.#keys.sessionsOf(this.#links.memberId()), clientId)
        .catch((err: unknown) => this.#log?.debug({ clientId, err }, 'session index not updated'))
    }, MOVED_GRACE_MS)
    owned.dropTimer.unref()
  }

  /** Drops what this node keeps of a session in memory (never touches Redis). */
  #forgetLocal (clientId: string): void {
    void super.cleanSubscriptions({ id: clientId })
    const held = this.#held.get(clientId)
    this.#held.delete(clientId)
    for (const topic of held ?? []) this.#links.release(topic)
  }

  /** A fenced write found a newer epoch: this connection lost its session. */
  #stale (clientId: string, epoch: string, owner = ''): void {
    this.counters.staleWrites++
    for (const conn of [...(this.#conns.get(clientId) ?? [])]) {
      if (this.#connEpoch.get(conn) === epoch) {
        this.#conns.get(clientId)?.delete(conn)
        conn.close()
      }
    }
    // Until the new owner is known (a kick, or a stale enqueue naming it), enqueues keep
    // going to Redis, fail as stale, and are forwarded to the owner the script names.
    const owned = this.#owned.get(clientId)
    if (owned?.epoch === epoch) this.#moved(clientId, owned, owner !== '' && owner !== this.#links.memberId() ? owner : undefined)
  }

  /** A fenced write of `epoch` was refused: let the session go; the error aedes gets. */
  #takenOver (clientId: string, epoch: string): Error {
    this.#stale(clientId, epoch)
    return sessionTakenOver()
  }

  /**
   * The epoch a write on behalf of `client` carries: its connection's when aedes passes
   * the connection, else that of the newest session this node opened for the id (a plain
   * `{ id }` or subscription); '' (unfenced) when this node never opened the session,
   * which only the persistence contract tests do.
   */
  #epochOf (client: object & { id: string }): string {
    return this.#connEpoch.get(client) ?? this.#owned.get(client.id)?.epoch ?? ''
  }

  #connected (clientId: string): ClientLike | undefined {
    return (this.#broker as unknown as { clients?: Record<string, ClientLike> } | undefined)?.clients?.[clientId]
  }

  // --- subscriptions ---------------------------------------------------------------------

  override async addSubscriptions (client: ClientRef, subs: Subscription[]): Promise<void> {
    const epoch = this.#epochOf(client)
    const items: string[] = []
    for (const sub of subs) items.push(sub.topic, JSON.stringify(subscriptionRecord(sub)))
    if (!await this.#scripts.session(client.id).subs(epoch, 'add', items)) {
      throw this.#takenOver(client.id, epoch)
    }
    await this.#mirror(client, subs)
  }

  override async removeSubscriptions (client: ClientRef, topics: string[]): Promise<void> {
    const epoch = this.#epochOf(client)
    if (!await this.#scripts.session(client.id).subs(epoch, 'remove', topics)) {
      throw this.#takenOver(client.id, epoch)
    }
    await super.removeSubscriptions(client, topics)
    const held = this.#held.get(client.id)
    for (const topic of topics) if (held?.delete(topic) === true) this.#links.release(topic)
  }

  /** aedes calls this for clean session 1 only; `open` has already cleared Redis then. */
  override async cleanSubscriptions (client: ClientRef): Promise<void> {
    if (this.#connEpoch.get(client) === undefined) {
      await this.#scripts.session(client.id).subs(this.#epochOf(client), 'clear')
    }
    this.#forgetLocal(client.id)
  }

  /** aedes calls this for clean session 0 only: the stored subscriptions, restored here. */
  override async subscriptionsByClient (client: ClientRef): Promise<Subscription[]> {
    const subs = await this.#storedSubscriptions(client.id)
    // Replaced in one go (in-memory work only between here and the mirror), and routes
    // held for filters the session no longer has are let go.
    await super.cleanSubscriptions(client)
    const held = this.#held.get(client.id)
    const wanted = new Set(subs.filter(s => s.qos > 0 && !s.topic.startsWith('$share/')).map(s => s.topic))
    for (const topic of [...(held ?? [])]) {
      if (!wanted.has(topic)) {
        held?.delete(topic)
        this.#links.release(topic)
      }
    }
    await this.#mirror(client, subs)
    return subs
  }

  async #storedSubscriptions (clientId: string): Promise<Subscription[]> {
    const stored = await this.#redis.hgetall(this.#keys.session(clientId).subs)
    const subs: Subscription[] = []
    for (const [topic, json] of Object.entries(stored)) subs.push({ topic, ...(JSON.parse(json) as { qos: number }) })
    return subs
  }

  /**
   * Keeps this node's view of its own sessions' subscriptions, and their held routes
   * (`routed` collects a promise per new route, settled once peers route it here).
   */
  async #mirror (client: ClientRef, subs: Subscription[], routed?: Array<Promise<void>>): Promise<void> {
    if (subs.length === 0) return
    await super.addSubscriptions(client, subs)
    let held = this.#held.get(client.id)
    for (const sub of subs) {
      // A shared subscription is a group member only while connected (the emitter's
      // groups): a parked session holds no route for it and gets no share of the group.
      if (sub.topic.startsWith('$share/')) continue
      if (sub.qos > 0 && held?.has(sub.topic) !== true) {
        held ??= new Set()
        held.add(sub.topic)
        const holding = this.#links.hold(sub.topic)
        routed?.push(holding)
      } else if (sub.qos === 0 && held?.delete(sub.topic) === true) {
        this.#links.release(sub.topic)
      }
    }
    if (held !== undefined) this.#held.set(client.id, held)
  }

  // --- outgoing --------------------------------------------------------------------------

  override async outgoingEnqueue (sub: Subscription, packet: Packet): Promise<void> {
    await this.#enqueueFor(sub, packet)
  }

  override async outgoingEnqueueCombi (subs: Subscription[], packet: Packet): Promise<void> {
    await Promise.all(subs.map(async sub => await this.#enqueueFor(sub, packet)))
  }

  /**
   * What aedes does on the publishing node, done here for a QoS 1/2 packet that came from
   * a peer: queue it for every session this node owns with a matching QoS > 0 subscription.
   */
  async enqueueRemote (packet: { topic: string } & Record<string, unknown>): Promise<void> {
    let subs = await this.subscriptionsByTopic(packet.topic) as Subscription[]
    // aedes' rule: $SYS topics are not queued for wildcard-first subscriptions.
    if (packet.topic.startsWith('$SYS/')) subs = subs.filter(s => !s.topic.startsWith('+') && !s.topic.startsWith('#'))
    if (subs.length > 0) await this.outgoingEnqueueCombi(subs, packet)
  }

  async #enqueueFor (sub: Subscription, packet: Packet): Promise<void> {
    const clientId = String(sub.clientId)
    const owned = this.#owned.get(clientId)
    if (owned?.movedTo !== undefined) {
      this.#links.forward(owned.movedTo, clientId, capQos(packet, sub.qos))
      return
    }
    await this.#enqueue(clientId, packet, sub.qos)
  }

  /** Queues `packet` for a session; false when it was already queued or not ours. */
  async #enqueue (clientId: string, packet: Packet, subQos?: number): Promise<boolean> {
    const stored = encodeStoredPacket({ ...packet, messageId: undefined })
    let epoch = this.#epochOf({ id: clientId })
    let result = await this.#scripts.session(clientId).enqueue(epoch, this.#settings.queueCap, refOf(packet), stored)
    if (result.status === 'stale' && result.owner === this.#links.memberId()) {
      // A newer connection of this session opened here while the script was on its way,
      // or is opening now, or opened and was refused (a newer connect elsewhere kicked it
      // before its CONNACK): queue it under the epoch this node holds now, or else the
      // one Redis holds. Whoever owns the session then, the message is in its queue, or
      // (stale again) forwarded to the node that owns it.
      await this.#openingNow.get(clientId)
      const now = this.#epochOf({ id: clientId })
      epoch = now !== epoch ? now : (await this.#redis.hget(this.#keys.session(clientId).meta, 'epoch')) ?? epoch
      result = await this.#scripts.session(clientId).enqueue(epoch, this.#settings.queueCap, refOf(packet), stored)
      if (result.status === 'stale' && result.owner === this.#links.memberId()) {
        this.#log?.warn({ clientId, ref: refOf(packet) }, 'message for a session changing hands here twice not queued')
      }
    }
    if (result.status === 'queued') {
      if (result.dropped > 0) {
        this.counters.queueDropped += result.dropped
        this.#log?.warn({ clientId, dropped: result.dropped, cap: this.#settings.queueCap }, 'session queue full: oldest messages dropped')
      }
      return true
    }
    if (result.status === 'stale') {
      this.#stale(clientId, epoch, result.owner)
      if (result.owner !== '' && result.owner !== this.#links.memberId()) {
        this.#links.forward(result.owner, clientId, subQos === undefined ? packet : capQos(packet, subQos))
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
  override async outgoingUpdate (client: ClientRef, packet: Packet): Promise<void> {
    const ref = refOf(packet)
    const messageId = packet.messageId
    if (messageId !== undefined && this.#recorded.get(client)?.get(messageId) === ref) {
      // Recorded with its replay batch (`#recordBatch`).
      this.#recorded.get(client)?.delete(messageId)
      if (!this.#holds(client)) throw sessionTakenOver()
      this.#sentWith(client).set(messageId, ref)
      return
    }
    const epoch = this.#epochOf(client)
    if (packet.cmd === 'publish' && messageId !== undefined) {
      // Live deliveries to one connection in the same turn share one script call.
      await this.#sends.add(`${epoch} ${client.id}`, { clientId: client.id, epoch, messageId, ref })
      this.#sentWith(client).set(messageId, ref)
      return
    }
    const result = await this.#scripts.session(client.id).update(epoch, ref, Number(packet.messageId), encodeStoredPacket(packet), this.#settings.ackMemoryMs)
    if (result === 'stale') {
      throw this.#takenOver(client.id, epoch)
    }
    if (packet.cmd !== 'pubrel' && packet.messageId !== undefined) this.#sentWith(client).set(packet.messageId, ref)
    // Gone from the queue (acknowledged meanwhile, or dropped by the cap): sent anyway,
    // untracked; aedes would close the connection on an error here.
    if (result === 'missing') this.#log?.debug({ clientId: client.id, messageId: packet.messageId }, 'sent message no longer queued')
  }

  /** Refs of the messages sent to one connection, by packet identifier, until acknowledged. */
  #sentWith (client: ClientRef): Map<number, string> {
    let refs = this.#inFlight.get(client)
    if (refs === undefined) this.#inFlight.set(client, refs = new Map())
    return refs
  }

  override async outgoingClearMessageId (client: ClientRef, packet: Packet | number): Promise<Packet | undefined> {
    // aedes calls this on every PUBACK/PUBCOMP; a clean session has nothing on Redis.
    if (client.clean === true) return await super.outgoingClearMessageId(client, packet)
    const messageId = typeof packet === 'number' ? packet : packet.messageId
    if (messageId === undefined) return undefined
    const refs = this.#inFlight.get(client)
    const ref = refs?.get(messageId) ?? ''
    refs?.delete(messageId)
    if (typeof packet === 'object' && packet.cmd === 'puback') {
      // PUBACKs of one connection read in the same turn share one script call; aedes only
      // passes the removed packet on to its 'ack' event, which slotmq does not use.
      const epoch = this.#epochOf(client)
      await this.#acks.add(`${epoch} ${client.id}`, { clientId: client.id, epoch, messageId, ref })
      return undefined
    }
    const removed = await this.#scripts.session(client.id).clear(this.#epochOf(client), messageId, this.#settings.ackMemoryMs, ref)
    if (removed === null) return undefined
    return { ...decodeStoredPacket(removed), messageId }
  }

  /**
   * The queue of a session, in order. Read in rounds until a round finds nothing newer,
   * so that messages handed over by the previous owner while a resumed session replays
   * its queue are sent in order after it (later rounds skip what this connection has
   * already been sent live).
   */
  override outgoingStream (client: ClientRef): Readable {
    if (client.clean === true) return super.outgoingStream(client)
    return Readable.from(this.#replay(client))
  }

  async * #replay (client: ClientRef): AsyncGenerator<Packet> {
    const id = client.id
    const replaying = this.#connEpoch.has(client)
    try {
      const k = this.#keys.session(id)
      let after = '-inf'
      let lastRead = false
      for (let round = 0; ; round++) {
        if (replaying && !this.#holds(client)) return
        const entries = await this.#redis.zrangebyscore(k.queue, after, '+inf', 'WITHSCORES')
        if (entries.length === 0) {
          if (!replaying || lastRead) return
          // Live delivery starts now; one more read catches what was queued after the
          // previous read and whose live copy was held back for the replay meanwhile.
          this.#replayed.add(client)
          this.#liveDuringLastRead.set(client, new Set())
          lastRead = true
          continue
        }
        after = `(${String(entries[entries.length - 1])}`
        const refs = entries.filter((_, i) => i % 2 === 0)
        for (let i = 0; i < refs.length; i += STREAM_BATCH) {
          const batch = refs.slice(i, i + STREAM_BATCH)
          const values = await this.#redis.hmgetBuffer(k.out, ...batch.flatMap(ref => ['p' + ref, 'r' + ref]))
          const packets: Packet[] = []
          for (let j = 0; j < batch.length; j++) {
            const stored = values[2 * j]
            if (stored === null || stored === undefined) continue
            const messageId = values[2 * j + 1]
            // Later rounds: only what the previous owner handed over meanwhile, not what
            // this connection was sent live (it has a packet identifier by then).
            if (round > 0 && messageId !== null && messageId !== undefined) continue
            const packet = decodeStoredPacket(stored)
            if (lastRead && this.#liveDuringLastRead.get(client)?.has(refOf(packet)) === true) continue
            if (replaying) this.#markSent(client, packet)
            if (messageId !== null && messageId !== undefined) {
              // Sent before with this identifier: to a connection, a re-delivery [MQTT-3.3.1-1].
              packet.messageId = Number(messageId.toString())
              if (replaying && packet.cmd === 'publish') packet.dup = true
            }
            packets.push(packet)
          }
          if (replaying && !await this.#recordBatch(client, packets)) return
          for (const packet of packets) {
            if (replaying && !this.#holds(client)) return
            yield packet
          }
        }
        if (!replaying) return
      }
    } finally {
      if (replaying) this.#replayed.add(client)
      this.#liveDuringLastRead.delete(client)
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
    if (!this.#holds(client)) return false
    const epoch = this.#epochOf(client)
    if (await this.#scripts.session(client.id).sent(epoch, pairs) !== 'stale') return true
    this.#stale(client.id, epoch)
    return false
  }

  #preRecorded (client: ClientRef): Map<number, string> {
    let recorded = this.#recorded.get(client)
    if (recorded === undefined) this.#recorded.set(client, recorded = new Map())
    return recorded
  }

  // --- inbound QoS 2 ---------------------------------------------------------------------

  override async incomingStorePacket (client: ClientRef, packet: Packet): Promise<void> {
    if (client.clean === true) return await super.incomingStorePacket(client, packet)
    const epoch = this.#epochOf(client)
    const result = await this.#scripts.session(client.id).put(epoch, 'incoming', 'hset', String(packet.messageId), encodeStoredPacket(packet))
    if (result === 'stale') {
      throw this.#takenOver(client.id, epoch)
    }
  }

  override async incomingGetPacket (client: ClientRef, packet: Packet): Promise<Packet> {
    if (client.clean === true) return await super.incomingGetPacket(client, packet) as Packet
    const stored = await this.#redis.hgetBuffer(this.#keys.session(client.id).incoming, String(packet.messageId))
    if (stored === null) throw new Error('no such packet')
    return { ...decodeStoredPacket(stored), messageId: packet.messageId }
  }

  override async incomingDelPacket (client: ClientRef, packet: Packet): Promise<void> {
    if (client.clean === true) return await super.incomingDelPacket(client, packet)
    const epoch = this.#epochOf(client)
    const result = await this.#scripts.session(client.id).put(epoch, 'incoming', 'hdel', String(packet.messageId))
    if (result === 'missing') throw new Error('no such packet')
    if (result === 'stale') this.#stale(client.id, epoch)
  }

  override async cleanIncoming (client: ClientRef): Promise<void> {
    if (client.clean === true) return await super.cleanIncoming(client)
    await this.#scripts.session(client.id).put(this.#epochOf(client), 'incoming', 'clear')
  }

  // --- wills -----------------------------------------------------------------------------

  override async putWill (client: ClientRef, packet: Packet): Promise<void> {
    const brokerId = String(this.#broker?.id ?? this.#links.memberId())
    packet.brokerId = brokerId
    packet.clientId = client.id
    const epoch = this.#epochOf(client)
    const result = await this.#scripts.session(client.id).put(epoch, 'will', 'set', '', encodeStoredPacket(packet))
    if (result === 'stale') {
      throw this.#takenOver(client.id, epoch)
    }
    if (!this.#willBrokers.has(brokerId)) {
      await this.#redis.sadd(this.#keys.willBrokers(), brokerId)
      this.#willBrokers.add(brokerId)
    }
    await this.#redis.sadd(this.#keys.wills(brokerId), client.id)
  }

  override async getWill (client: ClientRef): Promise<Packet | undefined> {
    const stored = await this.#redis.getBuffer(this.#keys.session(client.id).will)
    return stored === null ? undefined : decodeStoredPacket(stored)
  }

  /**
   * aedes deletes a will in two places: before storing a new one at CONNECT (with the
   * connection: fenced by its epoch), and after a connection closed (with a plain
   * `{ id, brokerId }` that cannot tell an old connection from its successor, the same-node
   * takeover hazard). For a session this node owns, the second kind is left to
   * `connectionClosed`, whose script drops the will only if that connection still owns it.
   */
  override async delWill (client: ClientRef & { brokerId?: string }): Promise<Packet | undefined> {
    if (this.#connEpoch.get(client) === undefined && this.#owned.has(client.id)) return undefined
    const will = await this.getWill(client)
    if (will === undefined) return undefined
    const result = await this.#scripts.session(client.id).put(this.#epochOf(client), 'will', 'clear')
    if (result === 'stale') return undefined
    await this.#redis.srem(this.#keys.wills(String(will.brokerId)), client.id)
    return will
  }

  override streamWill (brokers: Record<string, unknown> = {}): Readable {
    return Readable.from(this.#wills(brokers))
  }

  async * #wills (alive: Record<string, unknown>): AsyncGenerator<Packet> {
    const brokerIds = await this.#redis.smembers(this.#keys.willBrokers())
    for (const brokerId of brokerIds) {
      if (alive[brokerId] !== undefined) continue
      for (const clientId of await this.#redis.smembers(this.#keys.wills(brokerId))) {
        const will = await this.getWill({ id: clientId })
        if (will?.brokerId === brokerId) yield will
      }
    }
  }

  // --- retained --------------------------------------------------------------------------

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

/** The parts of an aedes client the session code uses. */
export interface ClientLike {
  id: string
  clean?: boolean
  close: (done?: () => void) => void
  deliverQoS?: (packet: Packet, cb: () => void) => void
}

/** A queued message's identity: its origin broker and counter (a PUBREL: its identifier). */
function refOf (packet: Packet): string {
  if (packet.cmd === 'pubrel' || packet.brokerId === undefined || packet.brokerId === null) return `~${String(packet.messageId)}`
  return `${String(packet.brokerId)}:${String(packet.brokerCounter)}`
}

/**
 * The live member that adopts a session: highest hash of (member, client id), so the
 * sessions spread evenly and a member joining or leaving moves only its share.
 */
export function pickMember (live: string[], clientId: string): string {
  let best = ''
  let bestScore = -1
  for (const m of live) {
    const score = fnv1a(`${m}\u0000${clientId}`)
    if (score > bestScore || (score === bestScore && m < best)) {
      best = m
      bestScore = score
    }
  }
  return best
}

function fnv1a (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** [MQTT-4.7.2-1]: a filter whose first level is a wildcard does not match a `$` topic. */
function capQos (packet: Packet, qos: number): Packet {
  return typeof packet.qos === 'number' && packet.qos > qos ? { ...packet, qos } : packet
}

function subscriptionRecord (sub: Subscription): Record<string, unknown> {
  const { topic: _topic, clientId: _clientId, ...rest } = sub
  return rest
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
