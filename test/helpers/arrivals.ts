/**
 * Counts messages whose payload is their sequence number (0 .. total - 1), to check that
 * every acknowledged publish arrived at least once and to report duplicates.
 */
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { until } from './until.js'

export class Arrivals {
  readonly #seen = new Map<number, number>()
  /** Arrivals without the DUP flag (first deliveries), by sequence number. */
  readonly #fresh = new Map<number, number>()
  readonly total: number

  constructor (total: number) {
    this.total = total
  }

  /** Counts every message `client` receives from now on. */
  watch (client: MqttClient): void {
    client.on('message', (_topic, payload, packet) => {
      const i = Number(payload.toString())
      this.#seen.set(i, (this.#seen.get(i) ?? 0) + 1)
      if (!packet.dup) this.#fresh.set(i, (this.#fresh.get(i) ?? 0) + 1)
    })
  }

  /** Waits until each of 0 .. upTo - 1 (default: total) arrived; fails listing the missing ones. */
  async complete (what: string, timeoutMs: number, upTo = this.total): Promise<void> {
    const missing = (): number[] => Array.from({ length: upTo }, (_, i) => i).filter(i => !this.#seen.has(i))
    await until(what, () => missing().length === 0, timeoutMs)
      .catch(() => assert.fail(`${what}: missing ${missing().join(',')}`))
  }

  /** Sequence numbers that arrived more than once. */
  get duplicates (): number {
    return this.repeated.length
  }

  /**
   * Sequence numbers sent more than once as a first delivery (DUP flag clear). A resend of
   * a message in flight when a session moved carries DUP [MQTT-4.4.0-1] and is not counted.
   */
  get sentTwice (): number[] {
    return [...this.#fresh.entries()].filter(([, c]) => c > 1).map(([i]) => i).sort((a, b) => a - b)
  }

  /** The sequence numbers that arrived more than once, in order. */
  get repeated (): number[] {
    return [...this.#seen.entries()].filter(([, c]) => c > 1).map(([i]) => i).sort((a, b) => a - b)
  }
}
