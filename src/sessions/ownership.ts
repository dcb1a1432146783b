/**
 * Session ownership: which sessions this node owns, with which epoch, through which
 * connections. The whole state machine of one session on one node lives here.
 *
 * States of a client id's session, as this node sees it:
 * - absent: not owned here (another node's, or none).
 * - opening: a session script of a connection here is on its way to Redis; a kick that
 *   arrives meanwhile is remembered, and refuses the connection if it is newer.
 * - connected (epoch): owned here, one connection of that epoch open.
 * - parked (epoch, until): owned here, no connection; its QoS > 0 subscriptions still
 *   hold routes, so messages are queued for it; Redis expires it at `until`.
 * - moved (to): another node took it over; what still arrives here is passed on to the
 *   new owner (once known) for a grace period, then the session is forgotten.
 *
 * Transitions:
 * - absent | parked | moved --open--> connected: the session script bumps the epoch and
 *   names the previous owner, which is kicked (`open`).
 * - connected --close script 'parked'--> parked; --'deleted' (clean session)--> absent.
 * - connected | parked --kick with a newer epoch, or a fenced write refused--> moved
 *   (`kicked`, `stale`); the connection of the older epoch is closed at once, what it
 *   still held in memory is handed to the new owner, and then the new owner is answered
 *   with a kick carrying its own epoch: the release.
 * - connected, taken from a live node: until the previous owner's release arrives (or
 *   `MOVED_GRACE_MS` passes), its old connection may still have been sent messages the new
 *   one is sent too, so every PUBLISH to the new one carries DUP (`mayOverlap`).
 * - moved --grace period over--> absent.
 * - absent --adopted from a dead or leaving node--> parked (`adopt`).
 * - parked --expired on Redis--> absent.
 */
import { sessionTakenOver } from '../errors.js'
import { publishWillOnTakeover } from '../will-on-takeover.js'
import { noop, type ClientLike, type ClientRef, type OwnedSession, type SessionContext } from './types.js'

/**
 * How long a resumed session's replay waits for the previous owner's release before live
 * delivery starts (it never comes from a dead node).
 */
const RELEASE_WAIT_MS = 500
/** How long a node that lost a session keeps forwarding what still arrives for it. */
const MOVED_GRACE_MS = 5000
/**
 * How long a connection closed by a takeover waits for the new connection's clean session
 * flag (its will depends on it) before it closes anyway, publishing its will.
 */
const WILL_RULE_READ_MS = 1000
/** Longest time between two checks for expired parked sessions. */
const EXPIRY_CHECK_MS = 30_000

export class Ownership {
  readonly #ctx: SessionContext
  /** Drops what this node keeps of a session in memory (subscriptions, held routes). */
  readonly #forget: (clientId: string) => void
  /** Sessions this node owns (connected, parked or moved). */
  readonly #owned = new Map<string, OwnedSession>()
  /** The epoch each connection was opened with. */
  readonly #connEpoch = new WeakMap<object, string>()
  /** Connections per client id on this node that opened a session and are not closed. */
  readonly #conns = new Map<string, Set<ClientLike>>()
  /** Client ids whose session script is on its way, and kicks that arrived meanwhile. */
  readonly #opening = new Map<string, number>()
  readonly #kickedWhileOpening = new Map<string, string>()
  /** Settles when the latest session script of a client id on its way here is back. */
  readonly #openingNow = new Map<string, Promise<void>>()
  /** Session closes in progress (a graceful stop waits for them). */
  readonly #closing = new Set<Promise<void>>()
  /** Persistent sessions taken from another node that has not released them yet. */
  readonly #overlap = new Map<string, { epoch: string, from: string, until: number, waiters: Array<() => void> }>()
  /** Session Present answer for the CONNACK being built, per client id. */
  readonly #present = new Map<string, boolean>()
  #expiryTimer: NodeJS.Timeout | undefined

  constructor (ctx: SessionContext, forget: (clientId: string) => void) {
    this.#ctx = ctx
    this.#forget = forget
  }

  /** Starts checking for parked sessions that expired on Redis. */
  start (): void {
    this.#expiryTimer = setInterval(() => { void this.#forgetExpired() }, Math.min(this.#ctx.settings.expiryMs / 2, EXPIRY_CHECK_MS))
    this.#expiryTimer.unref()
  }

  stop (): void {
    clearInterval(this.#expiryTimer)
    for (const s of this.#owned.values()) if (s.dropTimer !== undefined) clearTimeout(s.dropTimer)
  }

  /** The session of `clientId` as this node owns it, if it does. */
  get (clientId: string): OwnedSession | undefined {
    return this.#owned.get(clientId)
  }

  /** The connections of `clientId` on this node that opened a session and are not closed. */
  connectionsOf (clientId: string): ClientLike[] {
    return [...(this.#conns.get(clientId) ?? [])]
  }

  /** Whether `client` is a connection that opened a session here. */
  opened (client: object): boolean {
    return this.#connEpoch.has(client)
  }

  /** Settles when the session script of `clientId` on its way now (if any) is back. */
  async settledOpening (clientId: string): Promise<void> {
    await this.#openingNow.get(clientId)
  }

  /** Waits for the session closes in progress. */
  async settledClosing (): Promise<void> {
    await Promise.allSettled([...this.#closing])
  }

  /**
   * Takes the session of `client` over for this node (before CONNACK). Returns the epoch;
   * the previous owner, if another node, is told to close its connection.
   */
  async open (client: ClientLike, clean: boolean): Promise<string> {
    const id = client.id
    const { links, scripts, redis, keys } = this.#ctx
    const me = links.memberId()
    this.#opening.set(id, (this.#opening.get(id) ?? 0) + 1)
    let result
    try {
      const opening = scripts.session(id).open(me, clean, !clean)
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
      this.#ctx.counters.kicked++
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
    if (prior !== undefined && clean) this.#forget(id)
    this.#owned.set(id, { epoch: result.epoch, persistent: !clean })
    this.#present.set(id, result.present)
    if (result.previousOwner !== '' && result.previousOwner !== me) {
      this.#endOverlap(id)
      if (!clean) this.#overlap.set(id, { epoch: result.epoch, from: result.previousOwner, until: Date.now() + MOVED_GRACE_MS, waiters: [] })
      links.kick(result.previousOwner, id, result.epoch)
    }
    // The reaper of this node finds the session (and its will) through this index. The
    // previous owner's index keeps the id until that node lets the session go: if it died,
    // its reaper still hands the messages it had not queued to us.
    await redis.sadd(keys.sessionsOf(me), id)
    this.#ctx.log?.debug({ clientId: id, epoch: result.epoch, previousOwner: result.previousOwner, present: result.present }, 'session opened')
    return result.epoch
  }

  /** A connection ended (any reason): parks or deletes its session if it still owns it. */
  async connectionClosed (client: ClientLike): Promise<void> {
    const closing = this.#close(client)
    this.#closing.add(closing)
    try {
      await closing
    } finally {
      this.#closing.delete(closing)
    }
  }

  async #close (client: ClientLike): Promise<void> {
    const epoch = this.#connEpoch.get(client)
    if (epoch === undefined) return
    const conns = this.#conns.get(client.id)
    conns?.delete(client)
    if (conns?.size === 0) this.#conns.delete(client.id)
    if (this.#overlap.get(client.id)?.epoch === epoch) this.#endOverlap(client.id)
    const owned = this.#owned.get(client.id)
    if (owned?.epoch !== epoch) return
    const outcome = await this.#ctx.scripts.session(client.id).close(epoch, this.#ctx.settings.expiryMs)
    const current = this.#owned.get(client.id)
    if (current?.epoch !== epoch) return
    if (outcome === 'parked') {
      current.parkedUntil = Date.now() + this.#ctx.settings.expiryMs
      return
    }
    if (outcome === 'stale') {
      // Taken over elsewhere before the kick got here: keep forwarding what still arrives
      // for it, as after a kick (the enqueue scripts name the new owner).
      this.#moved(client.id, current, undefined)
      return
    }
    // A clean session ended: nothing of it stays here.
    this.#forget(client.id)
    this.#owned.delete(client.id)
    await this.#ctx.redis.srem(this.#ctx.keys.sessionsOf(this.#ctx.links.memberId()), client.id)
  }

  /**
   * A peer took `clientId` over with `epoch`: close older connections (returned: what they
   * held in memory is handed over before the release). A kick carrying the epoch this node
   * holds is the previous owner's release instead. Undefined when no release is due: this
   * node did not hold the session at an older epoch.
   */
  kicked (clientId: string, epoch: string, newOwner: string): ClientLike[] | undefined {
    const overlap = this.#overlap.get(clientId)
    if (overlap !== undefined && overlap.epoch === epoch) {
      if (overlap.from === newOwner) {
        this.#endOverlap(clientId)
        this.#ctx.counters.released++
      }
      return undefined
    }
    if (this.#owned.get(clientId)?.epoch === epoch) return undefined
    const closed: ClientLike[] = []
    if (this.#opening.has(clientId)) {
      const known = this.#kickedWhileOpening.get(clientId)
      if (known === undefined || Number(known) < Number(epoch)) this.#kickedWhileOpening.set(clientId, epoch)
    }
    for (const conn of [...(this.#conns.get(clientId) ?? [])]) {
      if (Number(this.#connEpoch.get(conn) ?? 0) < Number(epoch)) {
        this.#ctx.counters.kicked++
        this.#ctx.log?.info({ clientId, newOwner }, 'session taken over by another node: closing the connection')
        this.#conns.get(clientId)?.delete(conn)
        this.#closeTakenOver(conn)
        closed.push(conn)
      }
    }
    const owned = this.#owned.get(clientId)
    const held = owned !== undefined && Number(owned.epoch) < Number(epoch)
    if (held) this.#moved(clientId, owned, newOwner)
    // Only a node that held the session answers (a release is never answered).
    return held || closed.length > 0 ? closed : undefined
  }

  /**
   * Whether a message sent to `client` now may also have gone to the connection its session
   * was taken from on another node, which has not released it yet (see the states above).
   */
  mayOverlap (client: ClientRef): boolean {
    const overlap = this.#overlap.get(client.id)
    if (overlap === undefined) return false
    if (Date.now() > overlap.until) {
      this.#endOverlap(client.id)
      return false
    }
    return overlap.epoch === this.#connEpoch.get(client)
  }

  /** Settles when the previous owner released the session of `client`, or after `RELEASE_WAIT_MS`. */
  async released (client: ClientRef): Promise<void> {
    const overlap = this.#overlap.get(client.id)
    if (overlap === undefined || overlap.epoch !== this.#connEpoch.get(client)) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, RELEASE_WAIT_MS)
      overlap.waiters.push(() => { clearTimeout(timer); resolve() })
    })
  }

  #endOverlap (clientId: string): void {
    const overlap = this.#overlap.get(clientId)
    if (overlap === undefined) return
    this.#overlap.delete(clientId)
    for (const wake of overlap.waiters) wake()
  }

  /**
   * A parked session this node now owns (adopted from a dead or leaving node); undefined
   * when it already holds that epoch or a newer one.
   */
  adopt (clientId: string, epoch: string): OwnedSession | undefined {
    const owned = this.#owned.get(clientId)
    if (owned !== undefined && Number(owned.epoch) >= Number(epoch)) return undefined
    if (owned?.dropTimer !== undefined) clearTimeout(owned.dropTimer)
    this.#forget(clientId)
    const adopted: OwnedSession = { epoch, persistent: true, parkedUntil: Date.now() + this.#ctx.settings.expiryMs }
    this.#owned.set(clientId, adopted)
    this.#ctx.counters.adopted++
    return adopted
  }

  /** A fenced write found a newer epoch: this connection lost its session. */
  stale (clientId: string, epoch: string, owner = ''): void {
    this.#ctx.counters.staleWrites++
    for (const conn of [...(this.#conns.get(clientId) ?? [])]) {
      if (this.#connEpoch.get(conn) === epoch) {
        this.#conns.get(clientId)?.delete(conn)
        this.#closeTakenOver(conn)
      }
    }
    // Until the new owner is known (a kick, or a stale enqueue naming it), enqueues keep
    // going to Redis, fail as stale, and are forwarded to the owner the script names.
    const owned = this.#owned.get(clientId)
    const me = this.#ctx.links.memberId()
    if (owned?.epoch === epoch) this.#moved(clientId, owned, owner !== '' && owner !== me ? owner : undefined)
  }

  /** A fenced write of `epoch` was refused: let the session go; the error aedes gets. */
  takenOver (clientId: string, epoch: string): Error {
    this.stale(clientId, epoch)
    return sessionTakenOver()
  }

  /**
   * Whether `client` still holds its session here: not kicked, not closed, not moved.
   * A connection that lost it stops replaying at once (its writes would all be refused,
   * and its reads would compete with the new owner's).
   */
  holds (client: ClientRef): boolean {
    const epoch = this.#connEpoch.get(client)
    const owned = this.#owned.get(client.id)
    return epoch !== undefined && owned?.epoch === epoch && owned.movedTo === undefined &&
      this.#conns.get(client.id)?.has(client as ClientLike) === true
  }

  /**
   * The epoch a write on behalf of `client` carries: its connection's when aedes passes
   * the connection, else that of the newest session this node opened for the id (a plain
   * `{ id }` or subscription); '' (unfenced) when this node never opened the session,
   * which only the persistence contract tests do.
   */
  epochOf (client: object & { id: string }): string {
    return this.#connEpoch.get(client) ?? this.#owned.get(client.id)?.epoch ?? ''
  }

  /** The connection of `clientId` aedes holds on this node, if any. */
  connected (clientId: string): ClientLike | undefined {
    return (this.#ctx.broker() as unknown as { clients?: Record<string, ClientLike> } | undefined)?.clients?.[clientId]
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
   * Closes a connection whose session a newer connection took over. Its will follows the
   * takeover rule (src/will-on-takeover.ts): published unless both connections have clean
   * session 0. The newer connection's flag is the session's `persistent` field on Redis,
   * read only when it decides something (this connection is persistent and has a will);
   * if it cannot be read within `WILL_RULE_READ_MS`, the will is published, as for any
   * connection closed without DISCONNECT [MQTT-3.1.2-8].
   */
  #closeTakenOver (conn: ClientLike): void {
    if (conn.clean !== false || conn.will === undefined || conn.will === null) {
      conn.close()
      return
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply from Redis within ${WILL_RULE_READ_MS} ms`)), WILL_RULE_READ_MS)
    })
    Promise.race([this.#ctx.redis.hget(this.#ctx.keys.session(conn.id).meta, 'persistent'), late]).then((persistent) => {
      // A connection that started closing meanwhile (its socket failed) keeps its will.
      if (conn.closed !== true && !publishWillOnTakeover(false, persistent !== '1')) conn.will = null
    }, (err: unknown) => {
      this.#ctx.log?.warn({ clientId: conn.id, err }, 'clean session of the new connection not read: the will of the one taken over is published')
    }).finally(() => {
      clearTimeout(timer)
      conn.close()
    })
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
      this.#forget(clientId)
      this.#ctx.redis.srem(this.#ctx.keys.sessionsOf(this.#ctx.links.memberId()), clientId)
        .catch((err: unknown) => this.#ctx.log?.debug({ clientId, err }, 'session index not updated'))
    }, MOVED_GRACE_MS)
    owned.dropTimer.unref()
  }

  /**
   * Parked sessions expire in Redis (key expiry); this node then lets go of what it kept
   * for them: subscriptions in memory and held routes.
   */
  async #forgetExpired (): Promise<void> {
    const { redis, keys, links, log } = this.#ctx
    const now = Date.now()
    const due = [...this.#owned].filter(([, s]) => s.parkedUntil !== undefined && s.parkedUntil <= now && s.movedTo === undefined)
    for (const [clientId, owned] of due) {
      try {
        const [owner, ttl] = await Promise.all([
          redis.hget(keys.session(clientId).meta, 'owner'),
          redis.pttl(keys.session(clientId).meta)
        ])
        if (this.#owned.get(clientId) !== owned || owned.parkedUntil === undefined) continue
        if (owner === links.memberId() && ttl > 0) {
          owned.parkedUntil = Date.now() + ttl
          continue
        }
        this.#owned.delete(clientId)
        this.#forget(clientId)
        await redis.srem(keys.sessionsOf(links.memberId()), clientId)
        log?.debug({ clientId }, 'parked session expired')
      } catch (err) {
        log?.debug({ err, clientId }, 'parked session expiry not checked')
      }
    }
  }
}
