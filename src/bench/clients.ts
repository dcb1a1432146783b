/**
 * MQTT connections for benchmarks (MQTT.js): endpoint lists, round-robin placement, and
 * connects that always end (timeout) and always close.
 */
import { connect as mqttConnect, type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt'
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

export type ConnectOptions = IClientOptions & {
  timeoutMs?: number
  onMessage?: (topic: string, payload: Buffer) => void
}

export class ClientPool {
  readonly #clients: MqttClient[] = []

  async connect (url: string, opts: ConnectOptions = {}): Promise<MqttClient> {
    return (await this.open(url, opts)).client
  }

  /** Connects; `onMessage` is attached before CONNACK, so nothing sent right after it is missed. */
  async open (url: string, opts: ConnectOptions = {}): Promise<{ client: MqttClient, connack: IConnackPacket }> {
    const { timeoutMs = 10_000, onMessage, ...rest } = opts
    const client = mqttConnect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 60, ...rest })
    this.#clients.push(client)
    // Without TCP_NODELAY on the client side, small publishes wait for Nagle's algorithm
    // (about 40 ms here): every broker would look slow.
    client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true))
    if (onMessage !== undefined) client.on('message', onMessage)
    try {
      const connack = await new Promise<IConnackPacket>((resolve, reject) => {
        client.once('connect', resolve)
        client.once('error', reject)
        client.once('close', () => reject(new Error('connection closed before CONNACK')))
      })
      client.on('error', () => {})
      return { client, connack }
    } catch (err) {
      client.end(true)
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
