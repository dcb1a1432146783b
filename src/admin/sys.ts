/**
 * $SYS topics, published every `sys.intervalSeconds` (0 turns them off), not retained:
 * - `$SYS/brokers/<nodeId>/…` by every node about itself;
 * - `$SYS/broker/…` for the whole broker (every node summed), by one node only: the live
 *   member with the lowest id (in standalone mode, the node itself).
 * Topics under each: version, uptime (seconds), clients/connected, subscriptions/count,
 * messages/received, messages/sent, bytes/received, bytes/sent, retained messages/count,
 * and, for the broker, nodes/count. Payloads are decimal text, as Mosquitto's.
 */
import type { Logger } from '../logger.js'
import { totals, type ClusterTotals, type NodeStats, type StatsStore } from './stats.js'

export interface SysDeps {
  intervalMs: number
  stats: () => NodeStats
  publish: (topic: string, payload: string) => void
  /** Redis modes: where nodes share their statistics. */
  store?: StatsStore
  log: Logger
}

export class SysPublisher {
  readonly #deps: SysDeps
  #timer: NodeJS.Timeout | undefined
  #running = false

  constructor (deps: SysDeps) {
    this.#deps = deps
  }

  start (): void {
    if (this.#deps.intervalMs <= 0) return
    this.#timer = setInterval(() => { void this.tick() }, this.#deps.intervalMs)
    this.#timer.unref()
  }

  stop (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** One round: this node's topics, its statistics to Redis, the totals if it leads. */
  async tick (): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      const own = this.#deps.stats()
      this.#publishNode(own)
      const store = this.#deps.store
      if (store === undefined) {
        this.#publishTotals(own.version, totals([own]))
        return
      }
      await store.put(own, this.#deps.intervalMs * 3)
      const members = await store.members()
      if (members[0]?.memberId !== own.memberId) return
      const reported = members.flatMap(m => m.stats === undefined ? [] : [m.memberId === own.memberId ? own : m.stats])
      this.#publishTotals(own.version, { ...totals(reported), nodes: members.length })
    } catch (err) {
      this.#deps.log.warn({ err }, '$SYS statistics not published')
    } finally {
      this.#running = false
    }
  }

  #publishNode (s: NodeStats): void {
    const base = `$SYS/brokers/${s.nodeId}/`
    this.#publishAll(base, {
      version: s.version,
      uptime: s.uptimeSec,
      'clients/connected': s.clients,
      'subscriptions/count': s.subscriptions,
      'messages/received': s.messagesReceived,
      'messages/sent': s.messagesSent,
      'bytes/received': s.bytesReceived,
      'bytes/sent': s.bytesSent,
      'retained messages/count': s.retained
    })
  }

  #publishTotals (version: string, t: ClusterTotals): void {
    this.#publishAll('$SYS/broker/', {
      version,
      uptime: t.uptimeSec,
      'nodes/count': t.nodes,
      'clients/connected': t.clients,
      'subscriptions/count': t.subscriptions,
      'messages/received': t.messagesReceived,
      'messages/sent': t.messagesSent,
      'bytes/received': t.bytesReceived,
      'bytes/sent': t.bytesSent,
      'retained messages/count': t.retained
    })
  }

  #publishAll (base: string, values: Record<string, string | number>): void {
    for (const [topic, value] of Object.entries(values)) this.#deps.publish(base + topic, String(value))
  }
}
