/**
 * ClusterRouting ties one node into the cluster: its membership lease, its inbox, its own
 * routes, the route table of its peers, and the emitter aedes publishes through.
 *
 * Join: listen on the inbox, take the lease, say hello to every live peer (each answers
 * with its current delta number, so a change made while we were joining is not missed),
 * then load every peer's routes from Redis. Leave: drop the lease and the route set, and
 * tell the peers. A member whose lease a peer reaped rejoins under a new id. Peers that
 * stopped beating are dropped and reaped by DeadMembers (dead-members.ts). Inbox records
 * are dispatched here; peer messages are delivered in arrival order (delivery-order.ts), and
 * the frame version written follows what the peers read (frame-version.ts).
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from '../logger.js'
import type { ClusterStats } from '../metrics.js'
import type { RedisConnections } from '../redis/client.js'
import { FRAME_VERSION, type InboxRecord, type PublishRecord } from './frames.js'
import type { KeySpace } from '../redis/keys.js'
import type { Scripts } from '../redis/scripts.js'
import { DeadMembers, REAP_QUIET_MS, type ReapedHook } from './dead-members.js'
import { DeliveryOrder } from './delivery-order.js'
import { ClusterEmitter, type Message } from './emitter.js'
import { FrameVersionChoice } from './frame-version.js'
import { PeerBus } from './peer-bus.js'
import { Inbox } from './inbox.js'
import { Journal } from './journal.js'
import { LocalRoutes } from './local-routes.js'
import { Outbox } from './outbox.js'
import { PeerSync } from './peer-sync.js'
import { Registry } from './registry.js'
import { RouteTable } from './route-table.js'
import { MAX_HOPS, SharedDispatch, type SharedSend } from './shared-dispatch.js'
import type { SharedStrategy } from './shared.js'

export interface ClusterRoutingDeps {
  redis: RedisConnections
  keys: KeySpace
  scripts: Scripts
  /** Configured node name; member ids are `<nodeId>~<random>`. */
  nodeId: string
  /** First member id (the aedes broker id, fresh per start). */
  memberId: string
  leaseTtlMs: number
  log: Logger
  /** Options for the local mqemitter (concurrency, matching). */
  emitterOptions?: Record<string, unknown>
  /** Listeners the emitter must not register (see emitter.ts). */
  refuseListener?: (topic: string, listener: (message: Message, done: () => void) => void) => boolean
  /**
   * Whether closing the emitter (aedes closing) also leaves the cluster (default true).
   * The broker says no: it hands its sessions over after aedes closed, then leaves.
   */
  leaveWithEmitter?: boolean
  /** Called after this node reaped dead members (sessions and wills hook in here). */
  onReaped?: (memberIds: string[]) => void
  /** How shared subscription groups pick a member (default round_robin). */
  sharedStrategy?: SharedStrategy
}

/** An operator's request sent to this node by a peer (see `admin`). */
export type AdminHook = (action: string, clientId: string, sender: string) => void

/** A live member with its lease deadline (Redis clock, ms) and Redis's time now. */
export interface MemberLease { memberId: string, deadlineMs: number, nowMs: number }

/** Where a message from a peer came from: the sender's frame number `seq` to this node. */
export interface FrameOrigin { sender: string, seq: number }

/**
 * Runs before a QoS 1/2 packet from a peer is delivered locally (offline queueing).
 * `origin` is given for a message of a frame that arrived live, in its sender's order
 * (its journal entry stays until the journal's floor passes it); not for one taken from
 * the journal or handed over.
 */
export type InboundHook = (message: Message, origin?: FrameOrigin) => Promise<void>

/** What the layer above does when the membership or the journal has news for it. */
export interface MemberHooks {
  /** A QoS 1/2 message from this node's journal, possibly lost while its inbox was down. */
  recovered: (message: Message, clientId: string | undefined, origin: FrameOrigin) => Promise<void>
  /**
   * Every message of a frame that arrived live is handled (its inbound hooks settled). A
   * frame lost on the way and filled from the journal is not reported.
   */
  frameHandled?: (origin: FrameOrigin) => void
  /** This node rejoined under a new identity: its peers number their frames to it afresh. */
  numberingReset?: () => void
  /**
   * This node reaped `memberId`: its wills and sessions are ours to settle. Call
   * `dropRoutes` after the adopters took their routes and before replaying the journal.
   */
  reaped: ReapedHook
}

/**
 * A node pings its own inbox this often; a ping still missing at the next one means the
 * subscription was lost (ioredis does not always resubscribe after a failover), so the
 * node resubscribes: delivery resumes within about two intervals.
 */
const INBOX_PING_MS = 1000
/** Route changes wait at most this long for peers' acknowledgements before SUBACK. */
const ACK_TIMEOUT_MS = 2000
/** Frames not yet accepted by Redis above which QoS 0 publishers wait (back-pressure). */
const BACKPRESSURE_BYTES = 8 * 1024 * 1024
/** When this node accepted the PUBLISH of the message with `payload` (wall-clock ms), if known. */
export type PublishTimeLookup = (payload: unknown) => number | undefined
/**
 * A message from a peer: `publishedAt` is when the publishing node accepted its PUBLISH
 * (wall-clock ms), when the frame carried it. aedes' copies of the packet drop it.
 */
export type TimedMessage = Message & { publishedAt?: number }
/** A QoS 1/2 message from a dead member's journal; `clientId` when it was for one session. */
export interface JournalEntry { message: Message, clientId?: string, origin: FrameOrigin }

export class ClusterRouting {
  readonly emitter: ClusterEmitter
  /** Records to and from peers about one client id (the sessions layer's kinds). */
  readonly bus: PeerBus
  readonly table = new RouteTable()
  readonly #deps: ClusterRoutingDeps
  readonly #log: Logger
  readonly #peers = new Set<string>()
  readonly #dead: DeadMembers
  readonly #outbox: Outbox
  readonly #inbox: Inbox
  readonly #journal: Journal
  readonly #registry: Registry
  readonly #local: LocalRoutes
  readonly #sync: PeerSync
  readonly #shared: SharedDispatch
  readonly #ready: Promise<void>
  #memberId: string
  #started = false
  #closing: Promise<void> | undefined
  #inbound: InboundHook | undefined
  #members: MemberHooks | undefined
  /** Frames received before the member hooks were set, reported to them when they are. */
  readonly #earlyFrames: FrameOrigin[] = []
  #admin: AdminHook | undefined
  #rejoined: (() => void) | undefined
  #starting: Promise<void> | undefined
  /** Deliveries wait behind the inbound hook and direct handlers of earlier ones. */
  readonly #order = new DeliveryOrder()
  /** Publishes sent to peers and received from them. */
  readonly counts = { forwarded: 0, received: 0, frameErrors: 0 }
  /** When this node accepted the PUBLISH of a message, by its payload (see setPublishTimes). */
  #publishTime: PublishTimeLookup | undefined
  /** Which inbox frame version this node writes (frame-version.ts). */
  readonly #frameVersion: FrameVersionChoice

  constructor (deps: ClusterRoutingDeps) {
    this.#deps = deps
    this.#log = deps.log.child({ module: 'routing' })
    this.#frameVersion = new FrameVersionChoice(this.#log)
    this.#memberId = deps.memberId
    const { redis, keys, scripts } = deps
    let markReady: () => void = () => {}
    this.#ready = new Promise(resolve => { markReady = resolve })
    this.#markReady = markReady

    this.#outbox = new Outbox({
      sender: () => this.#memberId,
      version: () => this.#frameVersion.version,
      inbox: (m) => keys.inbox(m),
      send: redis.send,
      sendJournaled: async (m, frame) => await this.#journal.appendAndSend(m, frame),
      onError: (memberId, records, err) => {
        this.counts.frameErrors++
        this.#log.warn({ memberId, records, err }, 'frame to peer not sent')
      }
    })
    this.bus = new PeerBus((member, write) => this.#outbox.add(member, write), (m) => this.#toRecord(m))
    this.#journal = new Journal({
      redis,
      keys,
      scripts,
      memberId: () => this.#memberId,
      lost: (m) => {
        if (m.share !== undefined) this.#receiveShared(m.share.group, m.share.filter, this.#toMessage(m.record), m.share.hash, 0)
        else if (m.clientId === undefined) void this.#deliver(this.#toMessage(m.record))
        else void this.#direct(m.clientId, this.#toMessage(m.record), '')
      },
      replay: () => {
        const hooks = this.#members
        // Shared group messages of the outage reach their members through the audit (`lost`).
        return hooks === undefined ? undefined : async (m) => { if (m.share === undefined) await hooks.recovered(this.#toMessage(m.record), m.clientId, { sender: m.sender, seq: m.seq }) }
      },
      log: this.#log
    })
    this.#inbox = new Inbox({
      redis,
      channel: () => keys.inbox(this.#memberId),
      memberId: () => this.#memberId,
      onRecords: (sender, records, seq) => {
        const fresh = this.#journal.received(sender, seq)
        this.#onRecords(sender, records, fresh ? seq : undefined)
      },
      onTrouble: (since) => { void this.#journal.audit(since) },
      onRecovered: (since) => { void this.#journal.recover(since) },
      pingIntervalMs: INBOX_PING_MS,
      log: this.#log
    })
    this.#registry = new Registry({
      scripts,
      leaseTtlMs: deps.leaseTtlMs,
      memberId: this.#memberId,
      frameVersion: FRAME_VERSION,
      log: this.#log,
      events: {
        onMembers: (live) => this.#onMembers(live),
        onReaped: (dead) => { void this.#dead.reap(dead) },
        onLeaseLost: () => { void this.#rejoin() }
      }
    })
    this.#local = new LocalRoutes({
      ready: async () => await this.#ready,
      persist: async (seq, changes) => {
        const result = await scripts.routesApply(this.#memberId, seq, this.#routesExpiryMs, changes.map(c => (c.add ? '+' : '-') + c.filter))
        if (!result.applied) this.#log.warn({ seq, stored: result.seq }, 'route delta number was stale')
      },
      announce: (seq, changes) => {
        const peers = new Set(this.#peers)
        for (const p of peers) {
          // Nobody listens on that inbox: the peer died and its lease has not run out yet
          // (or it is renewing its subscription, and reloads our routes after the gap).
          // It publishes nothing meanwhile: a SUBACK or CONNACK does not wait for it.
          this.#outbox.add(p, w => w.routes(seq, changes), (err, receivers) => { if (err === undefined && receivers === 0) this.#local.acked(p, seq) })
        }
        return peers
      },
      log: this.#log,
      ackTimeoutMs: ACK_TIMEOUT_MS
    })
    this.#sync = new PeerSync({
      table: this.table,
      read: async (m) => await scripts.routesRead(m),
      ack: (m, seq) => this.#outbox.add(m, w => w.ack(seq)),
      live: (m) => this.#peers.has(m),
      log: this.#log
    })
    this.emitter = new ClusterEmitter({
      listenerAdded: (filter, done) => this.#local.added(filter, done),
      listenerRemoved: (filter) => this.#local.removed(filter),
      forward: (message, done) => this.#forward(message, done),
      closed: async () => { if (deps.leaveWithEmitter !== false) await this.close() },
      ...(deps.refuseListener === undefined ? {} : { refuse: deps.refuseListener })
    }, deps.emitterOptions, deps.sharedStrategy)
    this.#dead = new DeadMembers({
      redis,
      keys,
      leaseTtlMs: deps.leaseTtlMs,
      log: this.#log,
      self: () => this.#memberId,
      peers: () => this.#peers,
      sayGone: (to, memberId) => this.#outbox.add(to, w => w.gone(memberId)),
      dropPeer: (m) => this.#dropPeer(m),
      journal: (m) => this.#journal.messages(m),
      redispatch: (m) => this.#shared.redispatch(m.share.group, m.share.filter, this.#toMessage(m.record), m.share.hash, 0),
      reaped: () => this.#members?.reaped,
      ...(deps.onReaped === undefined ? {} : { onReaped: deps.onReaped })
    })
    this.#shared = new SharedDispatch({
      emitter: this.emitter,
      strategy: deps.sharedStrategy ?? 'round_robin',
      memberId: () => this.#memberId,
      table: this.table,
      send: (s, message) => { this.#sendShared(s, message, this.#toRecord(message)) },
      log: this.#log
    })
  }

  readonly #markReady: () => void

  get memberId (): string { return this.#memberId }

  /**
   * `keepFrom` gives the local time (ms) of the oldest frame this node still needs in its
   * journal (messages it delivered from memory and nobody has acknowledged yet): the
   * journal keeps its retention before that.
   */
  setJournalFloor (keepFrom: () => number | undefined): void {
    this.#journal.setFloor(keepFrom)
  }

  setInboundHook (hook: InboundHook): void {
    this.#inbound = hook
  }

  /**
   * Where the frames to peers take each message's publish time from: the wall-clock time
   * at which this node accepted its PUBLISH (the broker stamps it as aedes takes the
   * packet). A message from a peer carries its own (`publishedAt` on the message).
   */
  setPublishTimes (lookup: PublishTimeLookup): void {
    this.#publishTime = lookup
  }

  setMemberHooks (hooks: MemberHooks): void {
    this.#members = hooks
    for (const origin of this.#earlyFrames.splice(0)) hooks.frameHandled?.(origin)
  }

  setAdminHook (hook: AdminHook): void {
    this.#admin = hook
  }

  /**
   * Called when this node was reaped by a peer and has rejoined under a new identity: the
   * sessions of its connections were settled by the reaper (wills published, persistent
   * ones adopted), so the broker closes them and their clients reconnect to a fresh session.
   */
  setRejoinHook (hook: () => void): void {
    this.#rejoined = hook
  }

  /** Sends an operator's request to `memberId` (`disconnect` a client, `drain`). */
  admin (memberId: string, action: string, clientId = ''): void {
    this.#outbox.add(memberId, w => w.admin(action, clientId))
  }

  /** Every member holding a lease, with its deadline, from Redis. */
  async leases (): Promise<MemberLease[]> {
    const cmd = this.#deps.redis.cmd
    const [entries, time] = await Promise.all([cmd.zrange(this.#deps.keys.nodes(), '0', '-1', 'WITHSCORES'), cmd.time()])
    const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
    const leases: MemberLease[] = []
    for (let i = 0; i + 1 < entries.length; i += 2) leases.push({ memberId: String(entries[i]), deadlineMs: Number(entries[i + 1]), nowMs })
    return leases
  }

  /**
   * Holds a route for `filter` without a listener (a parked persistent session); resolves
   * once every peer has acknowledged the route (or the acknowledgement timed out).
   */
  async hold (filter: string): Promise<void> {
    await new Promise<void>(resolve => this.#local.added(filter, resolve))
  }

  release (filter: string): void {
    this.#local.removed(filter)
  }

  /**
   * Gives a shared group's message to another member of the group, on any node: one
   * whose member disconnected before acknowledging it.
   */
  redispatchShared (group: string, filter: string, message: Message): void {
    if (this.#closing !== undefined) return
    this.#shared.redispatch(group, filter, message, 0, 0)
  }

  /** Shared group deliveries so far (local, sent to peers, dropped without a member). */
  get sharedCounts (): Readonly<SharedDispatch['counts']> { return this.#shared.counts }

  get peers (): ReadonlySet<string> { return this.#peers }
  /** Counters for metrics. */
  stats (): ClusterStats {
    return {
      peers: this.#peers.size,
      forwarded: this.counts.forwarded,
      received: this.counts.received,
      frameErrors: this.counts.frameErrors,
      routeReloads: this.#sync.reloads,
      inboxResubscribes: this.#inbox.resubscribes,
      inboxPingsAnswered: this.#inbox.pingsAnswered,
      routeAckTimeouts: this.#local.ackTimeouts,
      malformedFrames: this.#inbox.malformed
    }
  }

  /** Health for /ready: Redis reachable, lease held, inbox answering its pings. */
  health (): { redis: boolean, lease: boolean, inbox: boolean } {
    return { redis: this.#deps.redis.ready(), lease: this.#registry.healthy, inbox: this.#inbox.healthy }
  }

  async start (): Promise<void> {
    this.#starting = this.#join()
    await this.#starting
    this.#started = true
    this.#markReady()
    this.#log.info({ memberId: this.#memberId, peers: this.#peers.size }, 'joined cluster')
  }

  /** Leaves the cluster: peers drop this node's routes at once. Safe to call twice. */
  async close (): Promise<void> {
    this.#closing ??= this.#leave()
    await this.#closing
  }

  /** The QoS 1/2 messages in `memberId`'s journal, oldest first. */
  async * journal (memberId: string): AsyncGenerator<JournalEntry> {
    for await (const m of this.#journal.messages(memberId)) {
      // Shared group messages were given to the groups' other members when the routes went.
      if (m.share !== undefined) continue
      const origin = { sender: m.sender, seq: m.seq }
      yield m.clientId === undefined ? { message: this.#toMessage(m.record), origin } : { message: this.#toMessage(m.record), clientId: m.clientId, origin }
    }
  }

  /** Deletes a member's journal (after its reaper replayed it, or when it leaves). */
  async dropJournal (memberId: string): Promise<void> {
    await this.#journal.drop(memberId)
  }

  get #routesExpiryMs (): number {
    // Route sets outlive a missed beat or two, never a dead node for long.
    return this.#deps.leaseTtlMs * 3
  }

  async #join (): Promise<void> {
    await this.#inbox.move()
    const live = await this.#registry.join(this.#memberId)
    for (const m of live) if (m !== this.#memberId) this.#peers.add(m)
    this.#updateFrameVersion()
    for (const p of this.#peers) this.#outbox.add(p, w => w.hello())
    this.#outbox.flush()
    await Promise.all([...this.#peers].map(async p => await this.#sync.reload(p)))
    if (!this.#started) await this.#inbox.start()
  }

  async #leave (): Promise<void> {
    await this.#starting?.catch(() => {})
    this.#registry.stop()
    const me = this.#memberId
    const cmd = this.#deps.redis.cmd
    if (this.#started) {
      // Off the member list first (a peer's next beat must not bring this node back), then
      // peers drop its routes; frames they sent before that still arrive and are handled
      // (a session handed over is forwarded to its new owner) until the inbox closes.
      await Promise.all([cmd.zrem(this.#deps.keys.nodes(), me), cmd.hdel(this.#deps.keys.nodesFrames(), me)])
        .catch((err: unknown) => this.#log.warn({ err }, 'lease not released'))
      for (const p of this.#peers) this.#outbox.add(p, w => w.gone(me))
      this.#outbox.flush()
      await new Promise(resolve => setTimeout(resolve, REAP_QUIET_MS))
    }
    this.#local.close()
    await this.#inbox.close()
    if (!this.#started) return
    const routes = this.#deps.keys.routes(me)
    await Promise.all([cmd.del(routes.filters, routes.meta), this.dropJournal(me)])
      .catch((err: unknown) => this.#log.warn({ err }, 'routes and journal not deleted'))
    this.#log.info({ memberId: me }, 'left cluster')
  }

  #forward (message: Message, done: (err?: Error) => void): void {
    if (!this.#started || this.#closing !== undefined) return done()
    // Peers only: #addPeer never adds this member, so its own inbox is never a target.
    const targets = this.table.match(message.topic)
    const count = targets.size
    // Shared groups cost one check of a counter while there are none.
    const shared = this.#shared.active ? this.#shared.route(message) : undefined
    if (count === 0 && shared === undefined) return done()
    const record = this.#toRecord(message)
    // QoS 0 completes at once unless Redis is falling behind; QoS 1/2 completes when Redis
    // has accepted the frame (the PUBACK/PUBREC follows that hand-off).
    if (record.qos === 0 && this.#outbox.unsettledBytes <= BACKPRESSURE_BYTES) {
      for (const t of targets) this.#outbox.add(t, w => w.publish(record))
      if (shared !== undefined) for (const s of shared) this.#outbox.add(s.target, w => w.shared(s, record))
      this.counts.forwarded += count
      return done()
    }
    let pending = count + (shared?.length ?? 0)
    let failure: Error | undefined
    const settle = (err?: Error): void => {
      if (err !== undefined) failure ??= err
      if (--pending === 0) done(failure)
    }
    for (const t of targets) this.#outbox.add(t, w => w.publish(record), settle)
    if (shared !== undefined) for (const s of shared) this.#sendShared(s, message, record, settle)
    this.counts.forwarded += count
  }

  /**
   * Sends a shared group's QoS 1/2 message to the member's node. Nobody listening on that
   * inbox means the node died (or its subscription is being renewed): its reaper may
   * already have read its journal, so the message goes to another member of the group
   * (a renewing node also finds it in its journal: at least once).
   */
  #sendShared (s: SharedSend, message: Message, record: Omit<PublishRecord, 'kind'>, settle?: (err?: Error) => void): void {
    this.#outbox.add(s.target, w => w.shared(s, record), (err, receivers) => {
      if (err === undefined && receivers === 0 && record.qos > 0 && s.hops + 1 < MAX_HOPS && this.#closing === undefined) {
        this.#shared.redispatch(s.group, s.filter, message, s.hash, s.hops + 1, s.target)
      }
      settle?.(err)
    })
  }

  #onRecords (sender: string, records: InboxRecord[], seq?: number): void {
    const origin = seq === undefined ? undefined : { sender, seq }
    const works: Array<Promise<void>> = []
    for (const r of records) {
      switch (r.kind) {
        case 'publish': {
          this.counts.received++
          const work = this.#deliver(this.#toMessage(r), origin)
          if (work !== undefined) works.push(work)
          break
        }
        case 'routes':
          this.#sync.onDelta(sender, r.seq, r.changes)
          break
        case 'ack':
          this.#local.acked(sender, r.seq)
          break
        case 'hello':
          this.#addPeer(sender)
          // Tells the newcomer how far our routes are; a higher number than its
          // snapshot makes it reload, which covers changes made while it joined.
          this.#outbox.add(sender, w => w.routes(this.#local.seq, []))
          break
        case 'gone':
          // Said to this member too by its reaper: a node whose lease was reaped while it
          // lived (cut off from Redis longer than the lease) learns it even if the
          // tombstone was lost.
          if (r.memberId === this.#memberId) this.#registry.leaseLost('reaped by a peer')
          else this.#dropPeer(r.memberId)
          break
        case 'kick':
          void this.bus.dispatch({ kind: 'kick', clientId: r.clientId, epoch: r.epoch }, sender)
          break
        case 'direct':
          works.push(this.#direct(r.clientId, this.#toMessage(r.publish), sender))
          break
        case 'shared':
          this.counts.received++
          this.#receiveShared(r.group, r.filter, this.#toMessage(r.publish), r.hash, r.hops)
          break
        case 'adopt':
          void this.bus.dispatch({ kind: 'adopt', clientId: r.clientId, epoch: r.epoch }, sender)
          break
        case 'adopted':
          void this.bus.dispatch({ kind: 'adopted', clientId: r.clientId, epoch: r.epoch }, sender)
          break
        case 'admin':
          this.#admin?.(r.action, r.clientId, sender)
          break
        case 'ping':
          break
      }
    }
    const hooks = this.#members
    if (origin === undefined) return
    if (hooks === undefined) {
      // Before the layer above is wired (joining): nothing of its sessions is in here.
      this.#earlyFrames.push(origin)
      return
    }
    if (hooks.frameHandled === undefined) return
    if (works.length === 0) hooks.frameHandled(origin)
    else void Promise.all(works).then(() => hooks.frameHandled?.(origin))
  }

  /**
   * Delivers a publish from a peer. A QoS 1/2 one is first queued for this node's
   * persistent sessions (the hook); hooks run concurrently (pipelined to Redis), while
   * deliveries keep their arrival order behind them.
   */
  #deliver (message: Message, origin?: FrameOrigin): Promise<void> | undefined {
    const hook = this.#inbound
    if (this.#order.idle && (hook === undefined || message.qos === 0)) {
      this.emitter.deliver(message)
      return undefined
    }
    const queued = hook !== undefined && message.qos !== 0
      ? hook(message, origin).catch((err: unknown) => this.#log.warn({ err, topic: message.topic }, 'queueing a peer publish failed'))
      : undefined
    this.#order.after(queued, () => this.emitter.deliver(message))
    return queued
  }

  /** A message for a member of a shared group here, in order behind earlier deliveries. */
  #receiveShared (group: string, filter: string, message: Message, hash: number, hops: number): void {
    if (this.#order.idle) this.#shared.receive(group, filter, message, hash, hops)
    else this.#order.after(undefined, () => this.#shared.receive(group, filter, message, hash, hops))
  }

  /**
   * A `direct` record's handler runs in order with this node's deliveries (`sender` is ''
   * for one taken from the journal).
   */
  #direct (clientId: string, message: Message, sender: string): Promise<void> {
    const work = Promise.resolve(this.bus.dispatch({ kind: 'direct', clientId, message }, sender))
      .catch((err: unknown) => this.#log.warn({ err, clientId }, 'forwarded session message not queued'))
    this.#order.after(work, () => {})
    return work
  }

  #addPeer (memberId: string): void {
    if (memberId === this.#memberId || this.#peers.has(memberId)) return
    this.#peers.add(memberId)
    this.#sync.ensure(memberId)
    this.#log.info({ memberId }, 'peer joined')
    if (!this.#registry.frameVersions.has(memberId)) {
      // Met before a beat listed it (its hello came first): legacy frames until a beat
      // says which version it reads; one now, not at the next interval. Never while
      // leaving: a beat would bring the lease back that `#leave` just removed.
      this.#updateFrameVersion()
      if (this.#started && this.#closing === undefined) void this.#registry.beat()
    }
  }

  #dropPeer (memberId: string): void {
    this.#dead.forget(memberId)
    this.#journal.forget(memberId)
    if (!this.#peers.delete(memberId)) return
    this.#sync.drop(memberId)
    this.#outbox.forget(memberId)
    this.#local.peerGone(memberId)
    this.#log.info({ memberId }, 'peer left')
    this.#updateFrameVersion()
  }

  /** Chooses the inbox frame version again (frame-version.ts) after the peers changed. */
  #updateFrameVersion (): void {
    this.#frameVersion.update(this.#peers, this.#registry.frameVersions)
  }

  /** Membership anti-entropy after each beat, plus the route digest check. */
  #onMembers (live: ReadonlySet<string>): void {
    this.#dead.check(live)
    for (const m of live) this.#addPeer(m)
    this.#updateFrameVersion()
    void this.#checkDigests()
    // Frames older than the retention were queued long ago (or this node would be dead).
    this.#journal.trim()
  }

  async #checkDigests (): Promise<void> {
    const peers = [...this.#peers]
    try {
      const seqs = await Promise.all(peers.map(async p => await this.#deps.redis.cmd.hget(this.#deps.keys.routes(p).meta, 'seq')))
      peers.forEach((p, i) => this.#sync.checkDigest(p, Number(seqs[i] ?? 0)))
    } catch (err) {
      this.#log.debug({ err }, 'route digest check failed')
    }
  }

  /** A message as a frame's publish record, with its publish time when known. */
  #toRecord (message: Message): Omit<PublishRecord, 'kind'> {
    const carried = (message as TimedMessage).publishedAt
    return toRecord(message, typeof carried === 'number' ? carried : this.#publishTime?.(message.payload))
  }

  /** A peer's publish record as a message, with `publishedAt` when the frame had it. */
  #toMessage (r: PublishRecord): Message {
    const message = toMessage(r)
    if (r.publishedAt !== undefined) (message as TimedMessage).publishedAt = r.publishedAt
    return message
  }

  async #rejoin (): Promise<void> {
    const old = this.#memberId
    this.#memberId = `${this.#deps.nodeId}~${randomBytes(4).toString('hex')}`
    this.#log.warn({ old, memberId: this.#memberId }, 'rejoining under a new identity')
    for (const p of [...this.#peers]) this.#dropPeer(p)
    this.#journal.reset()
    this.#members?.numberingReset?.()
    try {
      await this.#join()
      this.#local.reset()
      this.#rejoined?.()
    } catch (err) {
      this.#log.error({ err }, 'rejoin failed, retrying at the next beat')
      this.#memberId = old
    }
  }
}

function toRecord (message: Message, publishedAt: number | undefined): Omit<PublishRecord, 'kind'> {
  const payload = message.payload as unknown
  return {
    topic: message.topic,
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload ?? null)),
    qos: (message.qos ?? 0) as 0 | 1 | 2,
    retain: message.retain === true,
    dup: message.dup === true,
    brokerId: String(message.brokerId ?? ''),
    brokerCounter: Number(message.brokerCounter ?? 0),
    publishedAt
  }
}

function toMessage (r: PublishRecord): Message {
  return {
    cmd: 'publish',
    brokerId: r.brokerId,
    brokerCounter: r.brokerCounter,
    topic: r.topic,
    payload: r.payload,
    qos: r.qos,
    retain: r.retain,
    dup: r.dup,
    messageId: undefined
  }
}
