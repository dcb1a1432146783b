/**
 * Rates: a GCRA (generic cell rate algorithm, the token bucket as a single timestamp)
 * for per-connection publish throttling and per-address connection rates, and a log
 * throttle so that a flood of refusals does not become a flood of log lines.
 */

/**
 * `ratePerSec` events per second, with bursts of up to `ratePerSec` events (one second's
 * worth) after a quiet second.
 */
export class Gcra {
  readonly #intervalMs: number
  readonly #toleranceMs: number
  /** When the bucket would be full again (theoretical arrival time). */
  #tat = 0

  constructor (ratePerSec: number) {
    this.#intervalMs = 1000 / ratePerSec
    this.#toleranceMs = 1000 - this.#intervalMs
  }

  /** Takes a slot if one is free now; false (and nothing taken) otherwise. */
  tryTake (nowMs: number): boolean {
    const tat = Math.max(this.#tat, nowMs)
    if (tat - nowMs > this.#toleranceMs) return false
    this.#tat = tat + this.#intervalMs
    return true
  }

  /** Takes the next slot, free now or later; returns how long to wait for it (0: now). */
  reserve (nowMs: number): number {
    const tat = Math.max(this.#tat, nowMs)
    this.#tat = tat + this.#intervalMs
    return Math.max(0, tat - this.#toleranceMs - nowMs)
  }

  /** Whether the bucket is full, so forgetting it changes nothing. */
  idle (nowMs: number): boolean {
    return this.#tat <= nowMs
  }
}

/** New connections per second per source address. */
export class ConnectionRate {
  readonly #ratePerSec: number
  readonly #byAddress = new Map<string, Gcra>()
  #sweptAtMs = 0

  constructor (ratePerSec: number) {
    this.#ratePerSec = ratePerSec
  }

  /** Whether one more connection from `address` fits its rate (it is counted if so). */
  admit (address: string, nowMs = Date.now()): boolean {
    this.#sweep(nowMs)
    let bucket = this.#byAddress.get(address)
    if (bucket === undefined) {
      bucket = new Gcra(this.#ratePerSec)
      this.#byAddress.set(address, bucket)
    }
    return bucket.tryTake(nowMs)
  }

  /** Addresses quiet for a second are forgotten, so the map holds only recent ones. */
  #sweep (nowMs: number): void {
    if (nowMs - this.#sweptAtMs < 1000) return
    this.#sweptAtMs = nowMs
    for (const [address, bucket] of this.#byAddress) if (bucket.idle(nowMs)) this.#byAddress.delete(address)
  }
}

/**
 * At most one log line per key and interval. `take` says whether to log now and how many
 * events were not logged since the last line.
 */
export class LogThrottle {
  readonly #intervalMs: number
  readonly #last = new Map<string, { atMs: number, suppressed: number }>()

  constructor (intervalMs: number) {
    this.#intervalMs = intervalMs
  }

  take (key: string, nowMs = Date.now()): { log: boolean, suppressed: number } {
    const last = this.#last.get(key)
    if (last !== undefined && nowMs - last.atMs < this.#intervalMs) {
      last.suppressed++
      return { log: false, suppressed: 0 }
    }
    this.#last.set(key, { atMs: nowMs, suppressed: 0 })
    return { log: true, suppressed: last?.suppressed ?? 0 }
  }
}
