/**
 * The books of one message stream: every QoS 1 publish carries a sequence number (its
 * payload, in decimal); the ledger records what was published, what the broker
 * acknowledged (PUBACK) and what the subscriber received, and from that derives lost
 * (acknowledged, never delivered), duplicated and out-of-order deliveries.
 */
import type { RunResult } from './types.js'

export class Ledger {
  #next = 0
  readonly #acked = new Set<number>()
  readonly #ackedByTopic = new Map<string, number>()
  readonly #seen = new Set<number>()
  readonly #topicMax = new Map<string, number>()
  #duplicated = 0
  #outOfOrder = 0
  #lastDeliveryAt = 0

  /** A new sequence number for a message about to be published. */
  next (): number { return ++this.#next }

  get published (): number { return this.#next }
  get acknowledged (): number { return this.#acked.size }
  get delivered (): number { return this.#seen.size }
  get duplicated (): number { return this.#duplicated }
  get lastDeliveryAt (): number { return this.#lastDeliveryAt }

  ack (seq: number, topic: string): void {
    this.#acked.add(seq)
    if (seq > (this.#ackedByTopic.get(topic) ?? 0)) this.#ackedByTopic.set(topic, seq)
  }

  isAcked (seq: number): boolean { return this.#acked.has(seq) }

  /** Highest acknowledged sequence per topic. */
  lastAckedByTopic (): ReadonlyMap<string, number> { return this.#ackedByTopic }

  /** Records one delivery; payloads that are not a sequence number are ignored. */
  deliver (topic: string, payload: Buffer): void {
    const seq = Number(payload.toString())
    if (!Number.isInteger(seq) || seq <= 0) return
    this.#lastDeliveryAt = Date.now()
    if (this.#seen.has(seq)) {
      this.#duplicated++
      return
    }
    this.#seen.add(seq)
    const max = this.#topicMax.get(topic) ?? 0
    if (seq < max) this.#outOfOrder++
    else this.#topicMax.set(topic, seq)
  }

  /** Acknowledged sequence numbers never delivered, ascending. */
  missing (): number[] {
    return [...this.#acked].filter(seq => !this.#seen.has(seq)).sort((a, b) => a - b)
  }

  /** Copies the counts into a run result. */
  fill (result: RunResult): void {
    result.published = this.published
    result.acknowledged = this.acknowledged
    result.delivered = this.delivered
    result.lost = this.missing().length
    result.duplicated = this.#duplicated
    result.outOfOrder = this.#outOfOrder
  }
}

/** A few numbers of a list, for a check's detail: `3, 4, 5 … (12 in all)`. */
export function sample (seqs: readonly number[], max = 8): string {
  if (seqs.length === 0) return 'none'
  const shown = seqs.slice(0, max).join(', ')
  return seqs.length > max ? `${shown} … (${seqs.length} in all)` : shown
}
