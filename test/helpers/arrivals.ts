/**
 * Counts messages whose payload is their sequence number (0 .. total - 1), to check that
 * every acknowledged publish arrived at least once and to report duplicates.
 */
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { until } from './until.js'

export class Arrivals {
  readonly #seen = new Map<number, number>()
  readonly total: number

  constructor (total: number) {
    this.total = total
  }

  /** Counts every message `client` receives from now on. */
  watch (client: MqttClient): void {
    client.on('message', (_topic, payload) => {
      const i = Number(payload.toString())
      this.#seen.set(i, (this.#seen.get(i) ?? 0) + 1)
    })
  }

  /** Waits until each of 0 .. total - 1 arrived; fails listing the missing ones. */
  async complete (what: string, timeoutMs: number): Promise<void> {
    await until(what, () => this.#seen.size === this.total, timeoutMs)
      .catch(() => assert.fail(`missing: ${Array.from({ length: this.total }, (_, i) => i).filter(i => !this.#seen.has(i)).join(',')}`))
  }

  /** Sequence numbers that arrived more than once. */
  get duplicates (): number {
    return [...this.#seen.values()].filter(c => c > 1).length
  }
}
