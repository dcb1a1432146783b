/**
 * Collects what a benchmark run observed: end-to-end latency (HDR histogram, microsecond
 * resolution) overall and per second, publish-ack latency likewise, messages per second
 * (sent, received, and per subscriber), and per stream (one publisher seen by one
 * subscriber) the sequence numbers, from which lost, duplicated and out-of-order messages
 * are counted.
 */
import * as hdr from 'hdr-histogram-js'

export interface Percentiles { count: number, min: number, mean: number, p50: number, p90: number, p95: number, p99: number, p999: number, max: number }

/**
 * A histogram of microseconds up to an hour. The per-second ones, only drawn, keep two
 * significant digits: a seventh of the memory (about 14 KB instead of 93 KB each, two per
 * second of a run).
 */
function histogram (digits: 2 | 3 = 3): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: digits })
}

/** Percentiles in milliseconds from a microsecond histogram. */
export function percentiles (h: hdr.Histogram): Percentiles {
  const ms = (us: number): number => Math.round(us) / 1000
  if (h.totalCount === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 }
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue)
  }
}

interface Stream { seen: Set<number>, highest: number }

/**
 * One second of the run. The last second in which publishes were sent (or messages
 * received, or acknowledgements arrived) is usually cut short by the end of that phase:
 * `covered` says which part of the second each phase lasted (1 for every earlier second),
 * so that a rate is the count divided by it, not a collapse towards 0.
 */
export interface SecondSample {
  /** 1 for the first second of the run. */
  second: number
  sent: number
  received: number
  covered: { sent: number, received: number, ack: number }
  /** End-to-end latency of the messages received in this second. */
  latency: Percentiles
  /** Publish-acknowledgement latency of the acknowledgements that arrived in this second. */
  ack: Percentiles
  /** Messages each subscriber received in this second (with more than one subscriber). */
  perSubscriber?: { min: number, median: number, max: number }
}

interface Bucket { sent: number, received: number, latency: hdr.Histogram, ack: hdr.Histogram, perSubscriber: number[] }

/** Points of the latency distribution (percentile, ms) for a chart. */
export function distribution (h: hdr.Histogram): Array<[number, number]> {
  if (h.totalCount === 0) return []
  const points = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 100]
  return points.map(p => [p, Math.round(h.getValueAtPercentile(p)) / 1000])
}

export class Recorder {
  readonly latency = histogram()
  readonly ackLatency = histogram()
  readonly #perSecond: Bucket[] = []
  readonly #streams = new Map<string, Stream>()
  readonly #startedAt: number
  readonly #subscribers: number
  #sendingEndedAt: number | undefined
  #lastSentAt: number | undefined
  #lastReceivedAt: number | undefined
  #lastAckAt: number | undefined
  sent = 0
  received = 0
  duplicated = 0
  outOfOrder = 0
  /** Messages each publish is expected to produce (sum over its receivers). */
  expected = 0
  errors = 0

  /**
   * @param startedAtMs start of the run: second 1 begins here
   * @param subscribers how many subscribers report with their index (for per-subscriber rates)
   */
  constructor (startedAtMs: number, subscribers = 0) {
    this.#startedAt = startedAtMs
    this.#subscribers = subscribers
  }

  #second (atMs: number): Bucket {
    const i = Math.max(0, Math.floor((atMs - this.#startedAt) / 1000))
    while (this.#perSecond.length <= i) this.#perSecond.push({ sent: 0, received: 0, latency: histogram(2), ack: histogram(2), perSubscriber: new Array<number>(this.#subscribers).fill(0) })
    return this.#perSecond[i] as Bucket
  }

  /** A publish went out; `receivers` subscribers should each get it once. */
  onSent (atMs: number, receivers: number): void {
    this.sent++
    this.expected += receivers
    this.#lastSentAt = atMs
    this.#second(atMs).sent++
  }

  /** The sending phase ended (publishers stopped at the end of the duration). */
  endSending (atMs: number): void {
    this.#sendingEndedAt = atMs
  }

  /** A publish was acknowledged `latencyMs` after it was sent; the acknowledgement arrived at `atMs`. */
  onAck (latencyMs: number, atMs?: number): void {
    const us = Math.max(1, Math.round(latencyMs * 1000))
    this.ackLatency.recordValue(us)
    if (atMs === undefined) return
    this.#lastAckAt = atMs
    this.#second(atMs).ack.recordValue(us)
  }

  /**
   * A message arrived on `stream` (subscriber + publisher) with sequence `seq`;
   * `subscriber` is the receiving subscriber's index, for per-subscriber rates.
   */
  onReceived (stream: string, seq: number, latencyMs: number, atMs: number, subscriber?: number): void {
    let s = this.#streams.get(stream)
    if (s === undefined) {
      s = { seen: new Set(), highest: -1 }
      this.#streams.set(stream, s)
    }
    if (s.seen.has(seq)) {
      this.duplicated++
      return
    }
    s.seen.add(seq)
    if (seq < s.highest) this.outOfOrder++
    else s.highest = seq
    this.received++
    const us = Math.max(1, Math.round(latencyMs * 1000))
    this.latency.recordValue(us)
    this.#lastReceivedAt = atMs
    const second = this.#second(atMs)
    second.received++
    second.latency.recordValue(us)
    if (subscriber !== undefined && subscriber < this.#subscribers) second.perSubscriber[subscriber] = (second.perSubscriber[subscriber] ?? 0) + 1
  }

  get lost (): number {
    return Math.max(0, this.expected - this.received)
  }

  timeline (): SecondSample[] {
    // Part of second i (0-based) before a phase that ended at `endMs`: 1 before its last second, 0 after it.
    const covered = (endMs: number | undefined, i: number): number =>
      endMs === undefined ? 0 : Math.round(Math.min(1, Math.max(0, (endMs - this.#startedAt) / 1000 - i)) * 1000) / 1000
    const sendingEnd = this.#sendingEndedAt ?? this.#lastSentAt
    return this.#perSecond.map((s, i) => ({
      second: i + 1,
      sent: s.sent,
      received: s.received,
      covered: { sent: covered(sendingEnd, i), received: covered(this.#lastReceivedAt, i), ack: covered(this.#lastAckAt, i) },
      latency: percentiles(s.latency),
      ack: percentiles(s.ack),
      ...(this.#subscribers > 1 ? { perSubscriber: spread(s.perSubscriber) } : {})
    }))
  }
}

/** Fewest, median and most of some counts. */
export function spread (counts: number[]): { min: number, median: number, max: number } {
  const sorted = [...counts].sort((a, b) => a - b)
  if (sorted.length === 0) return { min: 0, median: 0, max: 0 }
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { min: sorted[0] as number, median, max: sorted[sorted.length - 1] as number }
}
