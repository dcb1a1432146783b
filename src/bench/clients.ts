/**
 * MQTT connections for benchmarks (MQTT.js): endpoint lists, round-robin placement, and
 * connects that always end (timeout) and always close.
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { BrokerError, ERR } from '../errors.js'

/** `host:port,host:port` or mqtt:// / ws:// URLs, to connect URLs. */
export function parseEndpoints (list: string): string[] {
  const urls = list.split(',').map(s => s.trim()).filter(s => s.length > 0).map(s => /^(mqtts?|wss?):\/\//.test(s) ? s : `mqtt://${s}`)
  if (urls.length === 0) throw new BrokerError(ERR.USAGE, 'no endpoints given')
  for (const u of urls) {
    try {
      new URL(u) // eslint-disable-line no-new
    } catch {
      throw new BrokerError(ERR.USAGE, `not an endpoint: ${u}`)
    }
  }
  return urls
}

/** Endpoint for the i-th client: round-robin over the list. */
export function pick (urls: readonly string[], i: number): string {
  return urls[i % urls.length] as string
}

export class ClientPool {
  readonly #clients: MqttClient[] = []

  async connect (url: string, opts: IClientOptions & { timeoutMs?: number } = {}): Promise<MqttClient> {
    const { timeoutMs = 10_000, ...rest } = opts
    const options: IClientOptions = { reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 60, ...rest }
    try {
      const client = await connectAsync(url, options)
      client.on('error', () => {})
      this.#clients.push(client)
      return client
    } catch (err) {
      throw new BrokerError(ERR.BENCH, `cannot connect to ${url}: ${(err as Error).message}`, { cause: err })
    }
  }

  async closeAll (): Promise<void> {
    const all = this.#clients.splice(0)
    await Promise.all(all.map(async c => await c.endAsync(true).catch(() => {})))
  }
}

export function runId (): string {
  return Math.random().toString(36).slice(2, 8)
}
