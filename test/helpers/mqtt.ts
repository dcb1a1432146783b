/**
 * MQTT test clients: mqtt.js for well-behaved clients, raw sockets for bad input.
 * Every wait has a timeout; nothing sleeps for a fixed time.
 */
import { once } from 'node:events'
import { inspect } from 'node:util'
import { connect as netConnect, type Socket } from 'node:net'
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { within } from './until.js'

export interface Received { topic: string, payload: string, qos: number, retain: boolean, dup: boolean }

const open: Array<MqttClient | Socket> = []

/**
 * How long a SUBSCRIBE, UNSUBSCRIBE, QoS > 0 PUBLISH or end of a helper's client may take.
 * mqtt.js keeps a packet sent on a closed connection until a reconnect, which never comes
 * when reconnects are off: without a bound such an await would hang the test file.
 */
const CLIENT_OP_MS = 30_000
const BOUNDED_OPS = ['subscribeAsync', 'unsubscribeAsync', 'publishAsync', 'endAsync'] as const

/** Makes every acknowledged operation of `client` fail, saying what it was, after `CLIENT_OP_MS`. */
function bounded (client: MqttClient): MqttClient {
  for (const op of BOUNDED_OPS) {
    const original = client[op].bind(client) as (...args: unknown[]) => Promise<unknown>
    const wrapped = async (...args: unknown[]): Promise<unknown> => await within(
      `${op}(${inspect(args[0], { breakLength: Infinity })}) of client ${client.options.clientId ?? '?'}`,
      original(...args), CLIENT_OP_MS, () => ({ connected: client.connected, disconnecting: client.disconnecting }))
    Object.defineProperty(client, op, { value: wrapped, configurable: true, writable: true })
  }
  return client
}

/** Connects with mqtt.js; reconnects are off so a closed connection stays closed. */
export async function connect (url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = bounded(await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }))
  open.push(client)
  return client
}

/**
 * Starts connecting and returns at once, so that listeners (messages replayed right
 * after CONNACK) are in place before the session resumes.
 */
export function connectLater (url: string, opts: IClientOptions = {}): { client: MqttClient, connected: () => Promise<IConnackPacket> } {
  const client = bounded(mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }))
  open.push(client)
  const connack = new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
    client.once('close', () => reject(new Error('connection closed before CONNACK')))
  })
  connack.catch(() => {})
  return { client, connected: async () => await connack }
}

/** Ends every client and socket opened through this module. */
export async function closeAll (): Promise<void> {
  const all = open.splice(0)
  await Promise.all(all.map(async c => {
    if ('endAsync' in c) await c.endAsync(true)
    else c.destroy()
  }))
}

/** Collects messages as they arrive and lets a test wait for the n-th one. */
export function collect (client: MqttClient): { messages: Received[], waitFor: (n: number, timeoutMs?: number) => Promise<Received[]> } {
  const messages: Received[] = []
  const waiters: Array<() => void> = []
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, dup: packet.dup })
    for (const w of waiters.splice(0)) w()
  })
  const waitFor = async (n: number, timeoutMs = 5000): Promise<Received[]> => {
    const deadline = Date.now() + timeoutMs
    while (messages.length < n) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`expected ${n} messages within ${timeoutMs} ms, got ${messages.length}: ${summary(messages)}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return messages
  }
  return { messages, waitFor }
}

/**
 * A marker message for a negative check. `send` publishes `payload` on a path that is
 * ordered after whatever must not arrive: the same publisher and topic, or a topic the
 * same subscriber gets from the same node (one node forwards to another in order); or
 * a retained message looked up after it. Once the marker is in, anything sent before it
 * is in too, so no fixed wait is needed.
 */
export interface Marker { payload: string, send: () => Promise<unknown> }

/**
 * Sends the marker, waits for it, and checks that exactly `count` messages arrived
 * before it (nothing that must not arrive did).
 */
export async function expectNoMore (c: { messages: Received[] }, count: number, marker: Marker, timeoutMs = 5000): Promise<void> {
  await marker.send()
  const deadline = Date.now() + timeoutMs
  let at = -1
  while ((at = c.messages.findIndex(m => m.payload === marker.payload)) === -1) {
    if (Date.now() > deadline) throw new Error(`the marker ${JSON.stringify(marker.payload)} did not arrive within ${timeoutMs} ms; got ${summary(c.messages)}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  const before = c.messages.slice(0, at)
  if (before.length !== count) throw new Error(`expected exactly ${count} messages before the marker, got ${before.length}: ${summary(before)}`)
}

/** Messages as `topic payload`, at most 40 of them (the first and the last 20). */
function summary (messages: Received[]): string {
  const show = (m: Received): string => `${m.topic} ${JSON.stringify(m.payload)}${m.retain ? ' (retained)' : ''}${m.dup ? ' (dup)' : ''}`
  if (messages.length <= 40) return messages.map(show).join(', ')
  return [...messages.slice(0, 20).map(show), `… ${messages.length - 40} more …`, ...messages.slice(-20).map(show)].join(', ')
}

/** A raw TCP connection that speaks MQTT packets (or garbage) and parses replies. */
export async function rawConnect (url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url)
  const socket = netConnect(Number(port), hostname)
  open.push(socket)
  await once(socket, 'connect')
  return new RawClient(socket)
}

export class RawClient {
  readonly socket: Socket
  readonly packets: Packet[] = []
  closed = false
  readonly #parser = mqttPacket.parser({ protocolVersion: 4 })
  readonly #waiters: Array<() => void> = []

  constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', (buf) => this.#parser.parse(buf))
    socket.on('error', () => {})
    socket.on('close', () => { this.closed = true; this.#wake() })
    this.#parser.on('packet', (p: Packet) => { this.packets.push(p); this.#wake() })
  }

  send (...packets: Array<Packet | Buffer>): void {
    this.socket.write(Buffer.concat(packets.map(p => Buffer.isBuffer(p) ? p : mqttPacket.generate(p))))
  }

  /** Waits for a packet of this type, or fails after the timeout. */
  async next (cmd: string, timeoutMs = 5000): Promise<Packet> {
    await this.#until(() => this.packets.some(p => p.cmd === cmd), timeoutMs, `a ${cmd} packet`)
    const i = this.packets.findIndex(p => p.cmd === cmd)
    return this.packets.splice(i, 1)[0] as Packet
  }

  /**
   * One PINGREQ / PINGRESP round trip. The broker answers a PINGREQ at once, in the event
   * loop turn that reads it; a write it scheduled (setImmediate) while handling an earlier
   * packet of this connection is out before the answer to a PINGREQ sent after the answer
   * to a previous one (two round trips).
   */
  async ping (timeoutMs = 5000): Promise<void> {
    this.send({ cmd: 'pingreq' })
    await this.next('pingresp', timeoutMs)
  }

  /** Waits until the broker closes the connection, or fails after the timeout. */
  async closedByBroker (timeoutMs = 5000): Promise<void> {
    await this.#until(() => this.closed, timeoutMs, 'the connection to close')
  }

  async #until (done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!done()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  #wake (): void {
    for (const w of this.#waiters.splice(0)) w()
  }
}

export function connectPacket (clientId: string, extra: Record<string, unknown> = {}): Packet {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30, ...extra } as Packet
}

let seq = 0
/** A client id / topic unique within this test process. */
export function unique (prefix: string): string {
  return `${prefix}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`
}
