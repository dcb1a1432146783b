/**
 * Collects what a benchmark run observed: end-to-end latency (HDR histogram, microsecond
 * resolution) overall and per second, publish-ack latency, and per stream (one publisher
 * seen by one subscriber) the sequence numbers, from which lost, duplicated and
 * out-of-order messages are counted.
 */
import * as hdr from 'hdr-histogram-js'

export interface Percentiles { count: number, min: number, mean: number, p50: number, p90: number, p95: number, p99: number, p999: number, max: number }

function histogram (): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 })
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

export interface SecondSample { second: number, sent: number, received: number, latency: Percentiles }

/** Points of the latency distribution (percentile, ms) for a chart. */
export function distribution (h: hdr.Histogram): Array<[number, number]> {
  if (h.totalCount === 0) return []
  const points = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 100]
  return points.map(p => [p, Math.round(h.getValueAtPercentile(p)) / 1000])
}

export class Recorder {
  readonly latency = histogram()
  readonly ackLatency = histogram()
  readonly #perSecond: Array<{ sent: number, received: number, latency: hdr.Histogram }> = []
  readonly #streams = new Map<string, Stream>()
  readonly #startedAt: number
  sent = 0
  received = 0
  duplicated = 0
  outOfOrder = 0
  /** Messages each publish is expected to produce (sum over its receivers). */
  expected = 0
  errors = 0

  constructor (startedAtMs: number) {
    this.#startedAt = startedAtMs
  }

  #second (atMs: number): { sent: number, received: number, latency: hdr.Histogram } {
    const i = Math.max(0, Math.floor((atMs - this.#startedAt) / 1000))
    while (this.#perSecond.length <= i) this.#perSecond.push({ sent: 0, received: 0, latency: histogram() })
    return this.#perSecond[i] as { sent: number, received: number, latency: hdr.Histogram }
  }

  /** A publish went out; `receivers` subscribers should each get it once. */
  onSent (atMs: number, receivers: number): void {
    this.sent++
    this.expected += receivers
    this.#second(atMs).sent++
  }

  onAck (latencyMs: number): void {
    this.ackLatency.recordValue(Math.max(1, Math.round(latencyMs * 1000)))
  }

  /** A message arrived on `stream` (subscriber + publisher) with sequence `seq`. */
  onReceived (stream: string, seq: number, latencyMs: number, atMs: number): void {
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
    const second = this.#second(atMs)
    second.received++
    second.latency.recordValue(us)
  }

  get lost (): number {
    return Math.max(0, this.expected - this.received)
  }

  timeline (): SecondSample[] {
    return this.#perSecond.map((s, i) => ({ second: i + 1, sent: s.sent, received: s.received, latency: percentiles(s.latency) }))
  }
}
