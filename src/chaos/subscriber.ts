/**
 * A persistent (clean session 0) QoS 1 subscriber. When its connection drops it
 * reconnects at once, with the same client id, to the next live node, and records each
 * reconnect: CONNACK time (from the connect attempt to CONNACK) and Session Present.
 */
import type { MqttClient } from 'mqtt'
import type { ClientPool } from '../bench/clients.js'
import { sleep } from './wait.js'

export interface Reconnect { url: string, connackMs: number, sessionPresent: boolean }

export interface SubscriberOptions {
  pool: ClientPool
  clientId: string
  filters: string[]
  onMessage: (topic: string, payload: Buffer) => void
  /** Nodes to reconnect to, in order of preference, given the URL that just failed. */
  reconnectUrls: (failed: string) => string[]
}

const RECONNECT_BUDGET_MS = 30_000

export class Subscriber {
  readonly #o: SubscriberOptions
  #client: MqttClient | undefined
  #url = ''
  #stopped = false
  #reconnecting: Promise<void> | undefined
  readonly reconnects: Reconnect[] = []
  /** Reconnects that found no session (Session Present 0): the session was lost. */
  sessionsLost = 0

  constructor (options: SubscriberOptions) { this.#o = options }

  get url (): string { return this.#url }
  get clientId (): string { return this.#o.clientId }
  get connected (): boolean { return this.#client?.connected === true }
  /** Resolves when a reconnect in progress has ended (at once when none is). */
  async reconnected (): Promise<void> { await this.#reconnecting }

  /** Connects (and subscribes when no session was present); returns CONNACK time and Session Present. */
  async connect (url: string, autoReconnect = true): Promise<Reconnect> {
    const started = Date.now()
    const { client, connack } = await this.#o.pool.open(url, {
      clientId: this.#o.clientId,
      clean: false,
      timeoutMs: 5000,
      onMessage: this.#o.onMessage
    })
    const connackMs = Date.now() - started
    this.#client = client
    this.#url = url
    if (!connack.sessionPresent) await client.subscribeAsync(this.#o.filters, { qos: 1 })
    client.once('close', () => {
      if (this.#client !== client) return
      this.#client = undefined
      if (autoReconnect && !this.#stopped) this.#reconnecting = this.#reconnect(url)
    })
    return { url, connackMs, sessionPresent: connack.sessionPresent }
  }

  async #reconnect (failed: string): Promise<void> {
    const deadline = Date.now() + RECONNECT_BUDGET_MS
    while (!this.#stopped && Date.now() < deadline) {
      for (const url of this.#o.reconnectUrls(failed)) {
        try {
          const r = await this.connect(url)
          this.reconnects.push(r)
          if (!r.sessionPresent) this.sessionsLost++
          return
        } catch {}
      }
      await sleep(100)
    }
  }

  /** A clean DISCONNECT: the session stays parked on its node; no reconnect follows. */
  async disconnect (): Promise<void> {
    const client = this.#client
    this.#client = undefined
    await client?.endAsync()
  }

  stop (): void { this.#stopped = true }
}
