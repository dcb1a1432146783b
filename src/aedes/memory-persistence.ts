/**
 * In-memory persistence for standalone mode: aedes-persistence's memory store with
 * slotmq's topic matching (src/memory-store.ts), plus the one thing it does not track,
 * whether a persistent session exists at all (a session with no subscriptions is still a
 * session, [MQTT-3.2.2-2]).
 */
import { Readable } from 'node:stream'
import { MemoryStore } from '../memory-store.js'

export class StandalonePersistence extends MemoryStore {
  /** Client ids that have a persistent (clean session 0) session. */
  readonly #sessions = new Set<string>()
  /** Answer for the CONNACK being built, per client id. */
  readonly #present = new Map<string, boolean>()

  /** aedes calls this only for clean session 0, just before it sends CONNACK. */
  override async subscriptionsByClient (client: { id: string }): Promise<unknown[]> {
    this.#present.set(client.id, this.#sessions.has(client.id))
    this.#sessions.add(client.id)
    return await super.subscriptionsByClient(client)
  }

  /** aedes calls this only for clean session 1: the previous session ends [MQTT-3.1.2-6]. */
  override async cleanSubscriptions (client: { id: string }): Promise<void> {
    this.#sessions.delete(client.id)
    this.#present.delete(client.id)
    await super.cleanSubscriptions(client)
  }

  /**
   * Queued messages. Replayed to a connection (an aedes client, not a bare `{ id }`), one
   * already sent (it has a packet identifier) goes again with DUP set [MQTT-3.3.1-1].
   */
  override outgoingStream (client: { id: string, broker?: unknown }): Readable {
    const queued = super.outgoingStream(client)
    if (client.broker === undefined) return queued
    return Readable.from((async function * () {
      for await (const packet of queued as AsyncIterable<Record<string, unknown>>) {
        yield packet.cmd === 'publish' && packet.messageId !== undefined ? { ...packet, dup: true } : packet
      }
    })())
  }

  /** Retained topics, counted for metrics. */
  get retainedCount (): number {
    return this.retainedTopics
  }

  readonly sessionPresence = (clientId: string): boolean | undefined => {
    const present = this.#present.get(clientId)
    this.#present.delete(clientId)
    return present
  }

  /**
   * What GET /sessions/<id> shows on a standalone node (no payloads); `live` are the
   * subscriptions of the connected client, if any (a clean session's are not stored).
   */
  async describe (clientId: string, live: Array<{ topic: string, qos: number }> | undefined): Promise<Record<string, unknown> | undefined> {
    const persistent = this.#sessions.has(clientId)
    if (!persistent && live === undefined) return undefined
    const client = { id: clientId }
    const queued = (await this.outgoingStream(client).toArray()).length
    return {
      clientId,
      owner: 'standalone',
      persistent,
      connected: live !== undefined,
      subscriptions: live ?? await super.subscriptionsByClient(client),
      queued,
      will: await this.getWill(client) !== undefined
    }
  }

  /** Number of persistent sessions held (connected or not). */
  get sessionCount (): number {
    return this.#sessions.size
  }
}
