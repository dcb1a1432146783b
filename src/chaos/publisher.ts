/**
 * A QoS 1 publisher of numbered messages: at a steady rate, or a burst in one tick. When
 * its connection drops it reconnects to the next live node with a new connection
 * (clean session): what was not acknowledged on the old connection stays unacknowledged
 * (it is never resent), what was acknowledged is never sent again.
 */
import type { MqttClient } from 'mqtt'
import type { ClientPool } from '../bench/clients.js'
import type { Ledger } from './ledger.js'
import { sleep, waitFor } from './wait.js'

export interface PublisherOptions {
  pool: ClientPool
  ledger: Ledger
  clientId: string
  /** Topic and retain flag of message `seq`. */
  message: (seq: number) => { topic: string, retain: boolean }
  /** Nodes to reconnect to, in order of preference, given the URL that just failed. */
  reconnectUrls: (failed: string) => string[]
}

const RECONNECT_BUDGET_MS = 30_000

export class Publisher {
  readonly #o: PublisherOptions
  #client: MqttClient | undefined
  #url = ''
  #generation = 0
  /** Sequence numbers sent on the current connection whose PUBACK has not come. */
  readonly #inflight = new Set<number>()
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  reconnects = 0

  constructor (options: PublisherOptions) { this.#o = options }

  get url (): string { return this.#url }
  get connected (): boolean { return this.#client?.connected === true }

  async connect (url: string): Promise<void> {
    const generation = ++this.#generation
    const { client } = await this.#o.pool.open(url, { clientId: `${this.#o.clientId}-${generation}`, clean: true, timeoutMs: 5000 })
    this.#client = client
    this.#url = url
    this.#inflight.clear()
    client.once('close', () => {
      if (this.#client !== client) return
      this.#client = undefined
      this.#inflight.clear()
      if (!this.#stopped) void this.#reconnect(url)
    })
  }

  async #reconnect (failed: string): Promise<void> {
    const deadline = Date.now() + RECONNECT_BUDGET_MS
    while (!this.#stopped && Date.now() < deadline) {
      for (const url of this.#o.reconnectUrls(failed)) {
        try {
          await this.connect(url)
          this.reconnects++
          return
        } catch {}
      }
      await sleep(100)
    }
  }

  /**
   * Publishes the next message if connected; `onAck` runs inside mqtt.js's publish
   * callback, right when its PUBACK was handled. Returns the sequence number, or 0.
   */
  publish (onAck?: (seq: number) => void): number {
    const client = this.#client
    if (client?.connected !== true) return 0
    const seq = this.#o.ledger.next()
    const { topic, retain } = this.#o.message(seq)
    this.#inflight.add(seq)
    client.publish(topic, String(seq), { qos: 1, retain }, (err) => {
      if (err !== undefined && err !== null) return
      this.#inflight.delete(seq)
      this.#o.ledger.ack(seq, topic)
      onAck?.(seq)
    })
    return seq
  }

  /** `count` messages in one tick; `onFirstAck` runs inside the first one's PUBACK callback. */
  burst (count: number, onFirstAck: () => void): number[] {
    const seqs: number[] = []
    for (let i = 0; i < count; i++) {
      const seq = this.publish(i === 0 ? onFirstAck : undefined)
      if (seq > 0) seqs.push(seq)
    }
    return seqs
  }

  /**
   * Publishes at `rate` msg/s until stopRate, or until `limit` messages were published in
   * all; slots missed while disconnected are skipped.
   */
  startRate (rate: number, limit = Infinity): void {
    this.stopRate()
    const started = Date.now()
    let slots = 0
    this.#timer = setInterval(() => {
      const due = Math.floor((Date.now() - started) * rate / 1000)
      // After a stall, catch up by at most a tenth of a second's worth: no huge bursts.
      slots = Math.max(slots, due - Math.ceil(rate / 10))
      while (slots < due && this.#o.ledger.published < limit) {
        slots++
        this.publish()
      }
    }, 10)
  }

  stopRate (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Waits (bounded) until every publish on the current connection was acknowledged. */
  async drained (timeoutMs: number): Promise<boolean> {
    return await waitFor(() => this.#inflight.size === 0, timeoutMs) !== undefined
  }

  stop (): void {
    this.#stopped = true
    this.stopRate()
  }
}
