/**
 * The wall clock that times messages between nodes: a node stamps when it accepted a
 * PUBLISH, the inbox frames carry that time, and the receiving node times its delivery
 * from it. The two readings are taken on different hosts, so they are comparable only as
 * far as the hosts' clocks agree (NTP), and a reader must expect a difference below zero
 * when they do not.
 */
import { performance } from 'node:perf_hooks'

/** The monotonic clock plus this gives the wall clock (ms), re-anchored after a clock step. */
let anchor = performance.timeOrigin
/** Readings left until the next check against Date.now(). */
let unchecked = 0
/** Readings between two checks: a step of the system clock shows within this many. */
const CHECK_EVERY = 64

/**
 * Wall-clock milliseconds since the epoch with sub-millisecond fractions. Date.now() has
 * whole milliseconds only, too coarse for deliveries that take about one; the monotonic
 * clock anchored to the wall clock is precise, and moves with it: every 64th reading is
 * checked against Date.now(), and the anchor is moved back onto it when the two part by
 * more than a millisecond (the system clock was stepped, or the two drifted apart).
 * Monotonic between such moves.
 */
export function wallClockMs (): number {
  const monotonic = performance.now()
  if (unchecked-- > 0) return anchor + monotonic
  unchecked = CHECK_EVERY
  const now = Date.now()
  const after = performance.now()
  // Date.now() (the wall clock cut to whole ms) was read between `monotonic` and `after`:
  // a pause between the readings (a busy machine) is no reason to move the anchor.
  if (anchor + monotonic <= now + 2 && anchor + after >= now - 1) return anchor + monotonic
  anchor = now + 0.5 - after
  return anchor + monotonic
}
