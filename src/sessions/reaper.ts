/**
 * Reaping and hand-over: when a node dies (its lease reaped by this node) or stops
 * gracefully (this node itself), its wills are published once each, its persistent
 * sessions adopted by the live members (spread by a hash of member and client id), and
 * the QoS 1/2 messages still in a dead node's journal handed to its sessions' new
 * owners. Also the other way in: a session adopted from a peer, and messages this node's
 * inbox may have missed.
 */
import { Qlobber } from 'qlobber'
import { decodeStoredPacket } from '../redis/codec.js'
import { filterSees, TOPIC_MATCHING } from '../topics.js'
import type { FrameOrigin } from '../routing/cluster.js'
import { decodeMark, type DeferredDeliveries } from './deferred.js'
import type { OutgoingQueue } from './outgoing.js'
import type { Ownership } from './ownership.js'
import type { SessionSubscriptions } from './subscriptions.js'
import { capQos, refOf, type Packet, type SessionContext, type Subscription } from './types.js'
import type { SessionWills } from './wills.js'

/** Session ids of a dead member claimed per SSCAN round. */
const REAP_BATCH = 100
/** A stopping node waits at most this long for its adopters to confirm their adoptions. */
const HANDOVER_CONFIRM_MS = 3000

export interface ReaperParts {
  owners: Ownership
  subs: SessionSubscriptions
  outgoing: OutgoingQueue
  wills: SessionWills
  deferred: DeferredDeliveries
  /** The sessions of this node with a subscription matching `topic` (in memory). */
  match: (topic: string) => Promise<Subscription[]>
}

export class Reaper {
  readonly #ctx: SessionContext
  readonly #owners: Ownership
  readonly #subs: SessionSubscriptions
  readonly #outgoing: OutgoingQueue
  readonly #wills: SessionWills
  readonly #deferred: DeferredDeliveries
  readonly #match: (topic: string) => Promise<Subscription[]>
  /** Sessions adopted by another node, by adopter, whose adoption it has not confirmed yet. */
  readonly #unconfirmed = new Map<string, string>()
  /** Called with each client id whose adoption is confirmed. */
  readonly #confirmWaiters = new Set<(clientId: string) => void>()

  constructor (ctx: SessionContext, parts: ReaperParts) {
    this.#ctx = ctx
    this.#owners = parts.owners
    this.#subs = parts.subs
    this.#outgoing = parts.outgoing
    this.#wills = parts.wills
    this.#deferred = parts.deferred
    this.#match = parts.match
  }

  /**
   * Graceful stop (after every client was closed): the sessions parked here are adopted
   * by `peers` as the reaper of a dead node would, so they keep being queued for.
   */
  async handOver (peers: string[]): Promise<void> {
    await new Promise(resolve => setImmediate(resolve))
    await this.#owners.settledClosing()
    if (peers.length === 0) return
    // Everything that reached this node was queued before it stopped: no journal replay.
    // Until each adopter has the session loaded and routed to it, this node still queues
    // for it (its scripts then name the adopter, so what arrives is forwarded there).
    await this.reapMember(this.#ctx.links.memberId(), peers)
  }

  /** `sender` confirmed it loaded `clientId`'s session, adopted from this node's reap or hand-over, and holds its routes. */
  adoptionConfirmed (clientId: string, sender: string): void {
    if (this.#unconfirmed.get(clientId) !== sender) return
    this.#unconfirmed.delete(clientId)
    for (const confirm of this.#confirmWaiters) confirm(clientId)
  }

  /**
   * Waits until the other nodes that adopted `ids` confirmed it (they hold their routes),
   * at most HANDOVER_CONFIRM_MS (an adopter may die too); returns how many did not.
   */
  async #confirmed (ids: string[]): Promise<number> {
    // One set of what is still awaited: each confirmation costs O(1), not a scan of `ids`.
    const waiting = new Set(ids.filter(id => this.#unconfirmed.has(id)))
    if (waiting.size > 0) {
      await new Promise<void>(resolve => {
        const done = (): void => {
          clearTimeout(timer)
          this.#confirmWaiters.delete(confirm)
          resolve()
        }
        const confirm = (clientId: string): void => {
          if (waiting.delete(clientId) && waiting.size === 0) done()
        }
        const timer = setTimeout(done, HANDOVER_CONFIRM_MS)
        this.#confirmWaiters.add(confirm)
      })
    }
    for (const id of waiting) this.#unconfirmed.delete(id)
    return waiting.size
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
    const index = this.#ctx.keys.sessionsOf(dead)
    const me = this.#ctx.links.memberId()
    // Persistent sessions the dead node held, by their owner now (adopter, or the node the
    // client reconnected to), with their subscriptions: the journal is replayed to them.
    const heirs = new Qlobber<{ clientId: string, qos: number, filter: string }>(TOPIC_MATCHING)
    const owners = new Map<string, string>()
    // How far the dead node's journal was settled for each session (deferred.ts).
    const marks = new Map<string, Map<string, number>>()
    let cursor = '0'
    let wills = 0
    let adopted = 0
    // Sessions adopted by another node: their routes must reach the peers before the dead
    // node's go (until then what is published for them still reaches the dead inbox, whose
    // journal is replayed; after, nothing would route it anywhere).
    const remote: string[] = []
    do {
      const [next, ids] = await this.#ctx.redis.sscan(index, cursor, 'COUNT', REAP_BATCH)
      cursor = next
      await Promise.all(ids.map(async (id) => {
        const adopter = pickMember(live, id)
        const result = await this.#ctx.scripts.session(id).reap(dead, adopter, this.#ctx.settings.expiryMs)
        if (result.will !== null) {
          wills++
          this.#wills.publishDead(decodeStoredPacket(result.will))
        }
        if (result.outcome === 'deleted') return
        if (result.outcome === 'adopted') {
          adopted++
          // Told at once, ahead of any message this node forwards to it for the session.
          if (adopter !== me) {
            this.#unconfirmed.set(id, adopter)
            remote.push(id)
            this.#ctx.links.adopt(adopter, id, result.epoch)
          }
          await this.#ctx.redis.sadd(this.#ctx.keys.sessionsOf(adopter), id)
          if (adopter === me) await this.adopted(id, result.epoch)
        }
        if (!replay) return
        const owner = result.outcome === 'adopted' ? adopter : await this.#ctx.redis.hget(this.#ctx.keys.session(id).meta, 'owner')
        if (owner === null || owner === dead) return
        owners.set(id, owner)
        const mark = decodeMark(dead, await this.#ctx.redis.hget(this.#ctx.keys.session(id).meta, 'jw'))
        if (mark !== undefined) marks.set(id, mark)
        for (const sub of await this.#subs.stored(id)) {
          if (sub.qos > 0) heirs.add(sub.topic, { clientId: id, qos: sub.qos, filter: sub.topic })
        }
      }))
    } while (cursor !== '0')
    let replayed = 0
    let settled = 0
    const unconfirmed = await this.#confirmed(remote)
    if (unconfirmed > 0) this.#ctx.log?.warn({ memberId: dead, unconfirmed }, 'sessions adopted without their adopters\' confirmation')
    await dropRoutes?.()
    if (replay && owners.size > 0) {
      for await (const entry of this.#ctx.links.journal(dead)) {
        const topic = String(entry.message.topic)
        const targets = entry.clientId === undefined
          ? heirs.match(topic).filter(h => filterSees(h.filter, topic))
          : [{ clientId: entry.clientId, qos: 2 }]
        for (const target of targets) {
          const owner = owners.get(target.clientId)
          if (owner === undefined) continue
          const floor = marks.get(target.clientId)?.get(entry.origin.sender)
          if (floor !== undefined && entry.origin.seq < floor) {
            settled++
            continue
          }
          replayed++
          const packet = capQos(entry.message, target.qos)
          if (owner === me) await this.#outgoing.deliverDirect(target.clientId, packet)
          else this.#ctx.links.forward(owner, target.clientId, packet)
        }
      }
    }
    await Promise.all([this.#ctx.redis.del(index), this.#ctx.links.dropJournal(dead)])
    this.#ctx.log?.info({ memberId: dead, wills, adopted, replayed, settled, marked: marks.size }, 'dead node settled: wills published, parked sessions adopted, journal replayed')
  }

  /**
   * A QoS 1/2 message this node may have missed (its inbox was down): queued for its
   * sessions that match and do not have it yet, and sent to them if connected.
   */
  async recovered (packet: Packet, clientId?: string, origin?: FrameOrigin): Promise<void> {
    if (clientId !== undefined) return await this.#outgoing.deliverDirect(clientId, packet)
    const topic = String(packet.topic)
    const subs = (await this.#match(topic)).filter(s => s.qos > 0 && filterSees(s.topic, topic) && !this.#hasHere(String(s.clientId), packet, origin))
    await Promise.all(subs.map(async s => await this.#outgoing.deliverDirect(String(s.clientId), capQos(packet, s.qos))))
  }

  /** Whether the session's connection here holds that message in memory or has acknowledged it (deferred.ts). */
  #hasHere (clientId: string, packet: Packet, origin: FrameOrigin | undefined): boolean {
    const client = this.#owners.connected(clientId)
    if (client === undefined || origin === undefined) return false
    return this.#deferred.get(client, refOf(packet)) !== undefined || this.#deferred.settled(client, origin)
  }

  /** A parked session this node now owns (adopted from a dead node): load and hold it. */
  async adopted (clientId: string, epoch: string): Promise<void> {
    const adoptedSession = this.#owners.adopt(clientId, epoch)
    if (adoptedSession === undefined) return
    const [subs, ttl] = await Promise.all([this.#subs.stored(clientId), this.#ctx.redis.pttl(this.#ctx.keys.session(clientId).meta)])
    if (ttl > 0) adoptedSession.parkedUntil = Date.now() + ttl
    if (this.#owners.get(clientId)?.epoch !== epoch) return
    const routed: Array<Promise<void>> = []
    await this.#subs.mirror({ id: clientId }, subs, routed)
    await Promise.all(routed)
  }
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
