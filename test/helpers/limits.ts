/**
 * Helpers for the limits tests: the refusal counter of a node, raw sessions, and a pair
 * of clients that must keep working while a limit bites.
 */
import assert from 'node:assert/strict'
import type { Packet } from 'mqtt-packet'
import { collect, connect, connectPacket, rawConnect, unique, type RawClient } from './mqtt.js'
import type { Topology } from './nodes.js'

export async function refusals (topo: Topology, limit: string): Promise<number> {
  const text = await topo.nodes[0]?.metrics.registry.getSingleMetricAsString('slotmq_limit_refused_total') ?? ''
  const m = new RegExp(`limit="${limit}"\\} (\\d+)`).exec(text)
  return m === null ? 0 : Number(m[1])
}

/** A subscriber and a publisher that must keep exchanging messages while a limit bites. */
export async function bystander (url: string): Promise<{ check: () => Promise<void> }> {
  const topic = unique('bystander')
  const sub = await connect(url)
  const got = collect(sub)
  await sub.subscribeAsync(topic, { qos: 1 })
  const pub = await connect(url)
  let sent = 0
  return {
    check: async () => {
      await pub.publishAsync(topic, `ok ${++sent}`, { qos: 1 })
      assert.equal((await got.waitFor(sent))[sent - 1]?.payload, `ok ${sent}`)
    }
  }
}

export async function rawSession (url: string, clientId = unique('raw')): Promise<RawClient> {
  const raw = await rawConnect(url)
  raw.send(connectPacket(clientId))
  assert.equal((await raw.next('connack') as Packet & { returnCode: number }).returnCode, 0)
  return raw
}

let nextMessageId = 0
/** SUBSCRIBE on a raw connection; resolves to the SUBACK return codes, in order. */
export async function subscribe (raw: RawClient, filters: Array<[string, 0 | 1 | 2]>): Promise<number[]> {
  raw.send({ cmd: 'subscribe', messageId: ++nextMessageId, subscriptions: filters.map(([topic, qos]) => ({ topic, qos })) })
  return (await raw.next('suback') as Packet & { granted: number[] }).granted
}
