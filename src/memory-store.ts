/**
 * aedes-persistence's in-memory store with slotmq's topic matching (TOPIC_MATCHING):
 * its own tries are built with qlobber's defaults, under which '+' does not match an
 * empty level and a topic deeper than 100 levels throws. Subscriptions (what offline
 * messages are queued for) and retained messages are kept here instead; queues,
 * in-flight packets and wills stay in the parent.
 *
 * Retained messages matching a wildcard come parents first, as from a walk of the topic
 * tree (`a` before `a/b` before `a/b/c`), whatever order they were stored in.
 */
import { Readable } from 'node:stream'
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js'
import { Qlobber, QlobberTrue } from 'qlobber'
import { TOPIC_MATCHING } from './topics.js'

type ClientRef = { id: string }
/** A subscription as aedes stores it (MQTT 5 options included, unused in 3.1.1). */
export type StoredSubscription = Record<string, unknown> & { topic: string, qos: number }
/** What subscriptionsByTopic returns: one entry per matching subscription. */
type Match = Record<string, unknown> & { clientId: string, topic: string, qos: number }
type Retained = Record<string, unknown> & { topic: string, payload: Buffer }

export class MemoryStore extends MemoryPersistence {
  /** Subscriptions by client id, then by filter. */
  readonly #subscriptions = new Map<string, Map<string, StoredSubscription>>()
  /** The QoS > 0 subscriptions (those messages are queued for), by filter. */
  readonly #trie = new Qlobber<Match>(TOPIC_MATCHING)
  /** The trie's entry of each client's QoS > 0 filter, to remove it by reference. */
  readonly #entries = new Map<string, Map<string, Match>>()
  readonly #retained = new Map<string, Retained>()

  override async addSubscriptions (client: ClientRef, subs: Array<{ topic: string, qos: number }>): Promise<void> {
    let stored = this.#subscriptions.get(client.id)
    if (stored === undefined) this.#subscriptions.set(client.id, stored = new Map())
    for (const sub of subs as StoredSubscription[]) {
      const { topic, qos, ...options } = sub
      this.#unindex(client.id, topic)
      if (qos > 0) {
        const entry: Match = { ...options, clientId: client.id, topic, qos }
        this.#trie.add(topic, entry)
        let entries = this.#entries.get(client.id)
        if (entries === undefined) this.#entries.set(client.id, entries = new Map())
        entries.set(topic, entry)
      }
      stored.set(topic, { ...options, topic, qos })
    }
  }

  override async removeSubscriptions (client: ClientRef, topics: string[]): Promise<void> {
    const stored = this.#subscriptions.get(client.id)
    if (stored === undefined) return
    for (const topic of topics) {
      this.#unindex(client.id, topic)
      stored.delete(topic)
    }
    if (stored.size === 0) this.#subscriptions.delete(client.id)
  }

  override async subscriptionsByClient (client: ClientRef): Promise<unknown[]> {
    return [...(this.#subscriptions.get(client.id)?.values() ?? [])].map(s => ({ ...s }))
  }

  override async cleanSubscriptions (client: ClientRef): Promise<void> {
    for (const topic of this.#subscriptions.get(client.id)?.keys() ?? []) this.#unindex(client.id, topic)
    this.#subscriptions.delete(client.id)
    this.#entries.delete(client.id)
  }

  override async subscriptionsByTopic (topic: string): Promise<unknown[]> {
    return this.#trie.match(topic).map(m => ({ ...m }))
  }

  override async countOffline (): Promise<{ subscriptions: number, clients: number }> {
    let subsCount = 0
    for (const entries of this.#entries.values()) subsCount += entries.size
    // aedes reads these two names (aedes-persistence's typings say otherwise)
    return { subsCount, clientsCount: this.#subscriptions.size } as unknown as { subscriptions: number, clients: number }
  }

  /** Client ids with a subscription to exactly `topic`. */
  override getClientList (topic: string): Readable {
    const ids: string[] = []
    for (const [clientId, stored] of this.#subscriptions) if (stored.has(topic)) ids.push(clientId)
    return Readable.from(ids)
  }

  override async storeRetained (packet: { topic: string, payload: Buffer }): Promise<void> {
    if (packet.payload.length === 0) this.#retained.delete(packet.topic)
    else this.#retained.set(packet.topic, { ...packet })
  }

  override createRetainedStreamCombi (patterns: string[]): Readable {
    return Readable.from(patterns.flatMap(p => this.#matchRetained(p)))
  }

  override createRetainedStream (pattern: string): Readable {
    return Readable.from(this.#matchRetained(pattern))
  }

  /** Number of topics with a retained message. */
  protected get retainedTopics (): number {
    return this.#retained.size
  }

  #matchRetained (pattern: string): Retained[] {
    if (!pattern.includes('+') && !pattern.includes('#')) {
      const one = this.#retained.get(pattern)
      return one === undefined ? [] : [one]
    }
    const matcher = new QlobberTrue(TOPIC_MATCHING)
    matcher.add(pattern)
    const found: Retained[] = []
    for (const [topic, packet] of this.#retained) if (matcher.test(topic)) found.push(packet)
    return found.sort((a, b) => compareLevels(a.topic, b.topic))
  }

  #unindex (clientId: string, topic: string): void {
    const entries = this.#entries.get(clientId)
    const entry = entries?.get(topic)
    if (entry === undefined) return
    this.#trie.remove(topic, entry)
    entries?.delete(topic)
    if (entries?.size === 0) this.#entries.delete(clientId)
  }
}

/** Orders topics as a walk of the topic tree meets them: level by level, parents first. */
function compareLevels (a: string, b: string): number {
  const x = a.split('/')
  const y = b.split('/')
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i] as string
    const q = y[i] as string
    if (p !== q) return p < q ? -1 : 1
  }
  return x.length - y.length
}
