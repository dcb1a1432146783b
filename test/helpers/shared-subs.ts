/**
 * Helpers for the shared subscription tests: group members that record what they got,
 * and publishers that send many QoS 1 messages with a bounded number in flight.
 */
import type { MqttClient } from 'mqtt'
import type { Topology } from './nodes.js'
import { connect, rawConnect, connectPacket, unique, type RawClient } from './mqtt.js'
import { until } from './until.js'

export interface Member { client: MqttClient, payloads: string[], topics: string[] }

/** Topics of the markers groupQuiet sends; members do not record them. */
const MARKER_TOPICS = 'slotmq-test-marker/'

/** Connects a client to `url` and subscribes it to `filter` at QoS 1. */
export async function member (url: string, filter: string): Promise<Member> {
  const client = await connect(url, { clientId: unique('member') })
  const m: Member = { client, payloads: [], topics: [] }
  client.on('message', (topic, payload) => {
    if (topic.startsWith(MARKER_TOPICS)) return
    m.payloads.push(payload.toString())
    m.topics.push(topic)
  })
  const [granted] = await client.subscribeAsync(filter, { qos: 1 })
  if (granted?.qos !== 1) throw new Error(`subscription to ${filter} not granted: ${JSON.stringify(granted)}`)
  return m
}

/**
 * A member that never acknowledges: every QoS 1 message it is sent stays unacknowledged
 * until its socket is destroyed.
 */
export async function silentMember (url: string, filter: string): Promise<RawClient> {
  const raw = await rawConnect(url)
  raw.send(connectPacket(unique('silent')))
  await raw.next('connack')
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] })
  const suback = await raw.next('suback') as unknown as { granted: number[] }
  if (suback.granted[0] !== 1) throw new Error(`silent member not granted: ${JSON.stringify(suback.granted)}`)
  return raw
}

/** Publishes `payloads` on `topic` at QoS 1, at most `window` unacknowledged at a time. */
export async function publishAll (client: MqttClient, topic: string | ((i: number) => string), payloads: string[], window = 200): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < payloads.length) {
      const i = next++
      await client.publishAsync(typeof topic === 'string' ? topic : topic(i), payloads[i] ?? '', { qos: 1 })
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, payloads.length) }, lane))
}

/** Waits until the members together hold `count` messages. */
export async function groupReceived (members: Array<{ payloads: string[] }>, count: number, timeoutMs = 30_000): Promise<void> {
  await until(`the group received ${count} messages`, () => total(members) >= count, timeoutMs)
}

/**
 * Checks that the members hold exactly `count` messages and nothing more is on its way,
 * without a fixed wait: every member also subscribes to a marker topic and every
 * publisher sends one marker there. A publisher's node forwards to a member's node in
 * order, so once a member has every publisher's marker, whatever those publishers sent
 * before (and their nodes dispatched to that member) has arrived. `publishers` must
 * include a client on every node that may send the group messages.
 */
export async function groupQuiet (members: Member[], count: number, publishers: MqttClient[], timeoutMs = 10_000): Promise<void> {
  const topic = MARKER_TOPICS + unique('quiet')
  const seen = members.map(() => new Set<string>())
  const listeners = members.map((_m, i) => (t: string, payload: Buffer): void => { if (t === topic) seen[i]?.add(payload.toString()) })
  try {
    await Promise.all(members.map(async (m, i) => {
      m.client.on('message', listeners[i] as (t: string, p: Buffer) => void)
      await m.client.subscribeAsync(topic, { qos: 1 })
    }))
    await Promise.all(publishers.map(async (p, i) => await p.publishAsync(topic, `marker ${i}`, { qos: 1 })))
    await until('every member has every publisher\'s marker', () => seen.every(s => s.size === publishers.length), timeoutMs,
      { observed: () => seen.map((s, i) => `member ${i}: ${[...s].join(', ')}`) })
  } finally {
    members.forEach((m, i) => m.client.removeListener('message', listeners[i] as (t: string, p: Buffer) => void))
  }
  const n = total(members)
  if (n !== count) throw new Error(`expected exactly ${count} messages in the group, got ${n} (per member ${members.map(m => m.payloads.length).join(' / ')}; repeated: ${duplicates(members).slice(0, 20).join(' ')})`)
}

export function total (members: Array<{ payloads: string[] }>): number {
  return members.reduce((n, m) => n + m.payloads.length, 0)
}

/** Payloads received more than once across the members. */
export function duplicates (members: Array<{ payloads: string[] }>): string[] {
  const seen = new Set<string>()
  const twice: string[] = []
  for (const m of members) {
    for (const p of m.payloads) {
      if (seen.has(p)) twice.push(p)
      seen.add(p)
    }
  }
  return twice
}

/** Payloads `m0`… `m<n-1>` with a tag. */
export function payloads (tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}-${i}`)
}

/** A counter from every node's GET /metrics, summed. */
export async function metricSum (topo: Topology, name: string): Promise<number> {
  let sum = 0
  for (const node of topo.nodes) {
    const text = await (await fetch(`http://127.0.0.1:${node.http?.port ?? 0}/metrics`)).text()
    const line = text.split('\n').find(l => l.startsWith(`${name} `))
    sum += Number(line?.split(' ')[1] ?? 0)
  }
  return sum
}
