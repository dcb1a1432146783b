/**
 * When each message was published: the wall-clock time at which the publishing node
 * accepted its PUBLISH, carried between nodes in the inbox frames, so that a receiving
 * node can time a delivery from the publish and not from the frame's arrival.
 *
 * Wall clock, because the publish and the delivery happen on different hosts: the two
 * readings are comparable only as far as the hosts' clocks agree (NTP), and a reader must
 * expect a difference below zero when they do not.
 */
import { performance } from 'node:perf_hooks'

/** The monotonic clock plus this gives the wall clock (ms), re-anchored after a clock step. */
let anchor = performance.timeOrigin

/**
 * Wall-clock milliseconds since the epoch with sub-millisecond fractions. Date.now() has
 * whole milliseconds only, too coarse for deliveries that take about one; the monotonic
 * clock anchored to the wall clock is precise, and is moved back onto Date.now() when the
 * two part by more than a millisecond (the system clock was stepped, or drifted apart).
 */
export function wallClockMs (): number {
  const monotonic = performance.now()
  const now = Date.now()
  const t = anchor + monotonic
  // Date.now() is the wall clock cut to whole ms, read a moment after `monotonic`.
  if (t < now - 1 || t > now + 2) {
    anchor = now + 0.5 - monotonic
    return now + 0.5
  }
  return t
}

/**
 * Publish times by message, keyed by the payload Buffer: aedes copies a packet for every
 * subscriber and every step but keeps its payload object, and a WeakMap entry goes when
 * the message does. A payload that is not an object (a string) has no time.
 */
export class PublishTimes {
  readonly #times = new WeakMap<object, number>()

  /** Records when the message with `payload` was published; the first record stays. */
  stamp (payload: unknown, atMs: number = wallClockMs()): void {
    if (typeof payload === 'object' && payload !== null && !this.#times.has(payload)) this.#times.set(payload, atMs)
  }

  /** When the message with `payload` was published, if known (wall-clock ms). */
  of (payload: unknown): number | undefined {
    return typeof payload === 'object' && payload !== null ? this.#times.get(payload) : undefined
  }
}
