/** Helpers for the scenarios that measure events rather than message flows. */
import * as hdr from 'hdr-histogram-js'
import { distribution, percentiles, type Percentiles } from '../recorder.js'
import type { BenchOptions, BenchResult } from '../types.js'

/** A histogram of durations in milliseconds (recorded with microsecond resolution). */
export class Timings {
  readonly #h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 })
  add (ms: number): void { this.#h.recordValue(Math.max(1, Math.round(ms * 1000))) }
  get count (): number { return this.#h.totalCount }
  summary (): Percentiles { return percentiles(this.#h) }
  distribution (): Array<[number, number]> { return distribution(this.#h) }
}

/** Resolves with the first value, or undefined after `timeoutMs`. */
export async function within<T> (timeoutMs: number, wait: (resolve: (v: T) => void) => void): Promise<T | undefined> {
  return await new Promise<T | undefined>(resolve => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs)
    wait(v => { clearTimeout(timer); resolve(v) })
  })
}

/**
 * Runs `step(0)` .. `step(total - 1)`, at most `concurrency` at once, reporting progress
 * (steps done, counted in `unit`) every 100 steps; returns how many steps threw (counted
 * as failures, not rethrown).
 */
export async function storm (total: number, concurrency: number, opts: BenchOptions, unit: string, step: (i: number) => Promise<void>): Promise<number> {
  const started = Date.now()
  let next = 0
  let done = 0
  let failures = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) {
      const i = next++
      try {
        await step(i)
      } catch {
        failures++
      }
      done++
      if (done % 100 === 0) opts.progress?.({ elapsedS: (Date.now() - started) / 1000, sentPerS: 0, receivedPerS: 0, steps: { done, total, unit } })
    }
  }))
  return failures
}

export function eventResult (scenario: string, opts: BenchOptions, durationS: number, timings: Record<string, Timings>, facts: BenchResult['facts']): BenchResult {
  return {
    scenario,
    settings: { qos: opts.qos, size: opts.size, clients: opts.clients ?? 0, clean: opts.clean },
    durationS: Math.round(durationS * 100) / 100,
    sent: 0,
    received: 0,
    expected: 0,
    lost: typeof facts.lost === 'number' ? facts.lost : 0,
    duplicated: 0,
    outOfOrder: 0,
    errors: typeof facts.failures === 'number' ? facts.failures : 0,
    sentPerS: 0,
    receivedPerS: 0,
    latency: undefined,
    ack: undefined,
    timings: Object.fromEntries(Object.entries(timings).filter(([, t]) => t.count > 0).map(([k, t]) => [k, t.summary()])),
    facts,
    timeline: [],
    distribution: [],
    timingDistributions: Object.fromEntries(Object.entries(timings).filter(([, t]) => t.count > 0).map(([k, t]) => [k, t.distribution()]))
  }
}
