/**
 * The aedes persistence used in Redis modes. Retained messages live on Redis
 * (retained.ts), visible from every node as soon as they are written. Sessions,
 * subscriptions and queues are still kept in this node's memory, as in standalone mode,
 * until they move to Redis with the session work (fenced takeover, offline queues).
 *
 * A persistent session's QoS 1/2 subscriptions hold a route on this node even while its
 * client is offline (the session is parked here), so that publishes made on other nodes
 * still arrive and are queued for it (`enqueueRemote`).
 */
import type { Readable } from 'node:stream'
import { StandalonePersistence } from '../aedes/memory-persistence.js'
import type { RetainedPacket, RetainedStore } from './retained.js'

export interface HeldRoutes {
  hold: (filter: string) => void
  release: (filter: string) => void
}

interface Subscription { topic: string, qos: number }
interface ClientRef { id: string }

export class RedisPersistence extends StandalonePersistence {
  readonly #retained: RetainedStore
  readonly #routes: HeldRoutes
  /** Filters each persistent session holds a route for (its QoS > 0 subscriptions). */
  readonly #held = new Map<string, Set<string>>()
  #retainedCount = 0

  constructor (retained: RetainedStore, routes: HeldRoutes) {
    super()
    this.#retained = retained
    this.#routes = routes
  }

  override async addSubscriptions (client: ClientRef, subs: Subscription[]): Promise<void> {
    await super.addSubscriptions(client, subs)
    let held = this.#held.get(client.id)
    for (const sub of subs) {
      if (sub.qos > 0 && held?.has(sub.topic) !== true) {
        held ??= new Set()
        held.add(sub.topic)
        this.#routes.hold(sub.topic)
      } else if (sub.qos === 0 && held?.delete(sub.topic) === true) {
        this.#routes.release(sub.topic)
      }
    }
    if (held !== undefined) this.#held.set(client.id, held)
  }

  override async removeSubscriptions (client: ClientRef, topics: string[]): Promise<void> {
    await super.removeSubscriptions(client, topics)
    const held = this.#held.get(client.id)
    for (const topic of topics) if (held?.delete(topic) === true) this.#routes.release(topic)
  }

  override async cleanSubscriptions (client: ClientRef): Promise<void> {
    await super.cleanSubscriptions(client)
    const held = this.#held.get(client.id)
    this.#held.delete(client.id)
    for (const topic of held ?? []) this.#routes.release(topic)
  }

  /**
   * What aedes does on the publishing node, done here for a QoS 1/2 packet that came from
   * a peer: queue it for every persistent session on this node with a matching QoS > 0
   * subscription. A connected client's live delivery then updates that entry; an offline
   * one gets it on reconnect.
   */
  async enqueueRemote (packet: { topic: string } & Record<string, unknown>): Promise<void> {
    let subs = await this.subscriptionsByTopic(packet.topic) as Subscription[]
    // aedes' rule: $SYS topics are not queued for wildcard-first subscriptions.
    if (packet.topic.startsWith('$SYS/')) subs = subs.filter(s => !s.topic.startsWith('+') && !s.topic.startsWith('#'))
    if (subs.length > 0) await this.outgoingEnqueueCombi(subs, packet)
  }

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
  override get retainedCount (): number {
    return this.#retainedCount
  }

  async refreshRetainedCount (): Promise<number> {
    this.#retainedCount = await this.#retained.count()
    return this.#retainedCount
  }
}
