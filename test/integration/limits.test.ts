/**
 * Per-node limits: each refuses with its documented answer (CONNACK code, SUBACK 0x80, a
 * closed connection, a held delivery, a slowed reader), counts it in
 * slotmq_limit_refused_total{limit} and leaves every other client on the node working.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Packet } from 'mqtt-packet'
import { closeAll, collect, connect, connectPacket, rawConnect, unique, type RawClient } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'

async function refusals (topo: Topology, limit: string): Promise<number> {
  const text = await topo.nodes[0]?.metrics.registry.getSingleMetricAsString('slotmq_limit_refused_total') ?? ''
  const m = new RegExp(`limit="${limit}"\\} (\\d+)`).exec(text)
  return m === null ? 0 : Number(m[1])
}

/** A subscriber and a publisher that must keep exchanging messages while a limit bites. */
async function bystander (url: string): Promise<{ check: () => Promise<void> }> {
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

async function rawSession (url: string, clientId = unique('raw')): Promise<RawClient> {
  const raw = await rawConnect(url)
  raw.send(connectPacket(clientId))
  assert.equal((await raw.next('connack') as Packet & { returnCode: number }).returnCode, 0)
  return raw
}

let nextMessageId = 0
/** SUBSCRIBE on a raw connection; resolves to the SUBACK return codes, in order. */
async function subscribe (raw: RawClient, filters: Array<[string, 0 | 1 | 2]>): Promise<number[]> {
  raw.send({ cmd: 'subscribe', messageId: ++nextMessageId, subscriptions: filters.map(([topic, qos]) => ({ topic, qos })) })
  return (await raw.next('suback') as Packet & { granted: number[] }).granted
}

describe('limits.maxConnections', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'max-connections': '3' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('a CONNECT beyond the limit gets CONNACK 0x03 (server unavailable) and the connected clients keep working', async () => {
    const others = await bystander(url)
    const kept = await rawSession(url, unique('kept'))
    const before = await refusals(topo, 'connections')
    const extra = await rawConnect(url)
    extra.send(connectPacket(unique('extra')))
    assert.equal((await extra.next('connack') as Packet & { returnCode: number }).returnCode, 3)
    await extra.closedByBroker()
    assert.equal(await refusals(topo, 'connections'), before + 1)
    await others.check()
    assert.equal(kept.closed, false)
  })

  test('a client taking over its own session at the limit is let in', async () => {
    await bystander(url)
    const id = unique('again')
    const first = await rawSession(url, id)
    await rawSession(url, id)
    await first.closedByBroker()
  })

  test('a connection that ends frees its place for the next client', async () => {
    await bystander(url)
    const leaving = await rawSession(url)
    leaving.socket.destroy()
    await until('the next client is let in', async () => {
      const next = await rawConnect(url)
      next.send(connectPacket(unique('next')))
      return (await next.next('connack') as Packet & { returnCode: number }).returnCode === 0
    })
  })
})

describe('limits.maxTopicLength and limits.maxTopicLevels', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'max-topic-length': '32', 'max-topic-levels': '4' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('a PUBLISH whose topic is longer than the limit closes that connection without PUBACK', async () => {
    const others = await bystander(url)
    const before = await refusals(topo, 'topic_length')
    const raw = await rawSession(url)
    raw.send({ cmd: 'publish', topic: 't/' + 'x'.repeat(31), payload: Buffer.from('long'), qos: 1, messageId: 1, retain: false, dup: false })
    await raw.closedByBroker()
    assert.equal(raw.packets.filter(p => p.cmd === 'puback').length, 0)
    assert.equal(await refusals(topo, 'topic_length'), before + 1)
    await others.check()
  })

  test('a topic at the limit is published (length counts UTF-8 bytes)', async () => {
    const topic = 'é/' + 'x'.repeat(29) // 2 + 1 + 29 = 32 bytes
    const sub = await connect(url)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(url)
    await pub.publishAsync(topic, 'fits', { qos: 1 })
    assert.equal((await got.waitFor(1))[0]?.payload, 'fits')
  })

  test('a will whose topic is longer than the limit is not published', async () => {
    const sub = await connect(url)
    const got = collect(sub)
    await sub.subscribeAsync('will/#', { qos: 1 })
    const before = await refusals(topo, 'topic_length')
    const willed = await rawConnect(url)
    willed.send(connectPacket(unique('will'), { will: { topic: 'will/' + 'x'.repeat(40), payload: Buffer.from('gone'), qos: 1, retain: false } }))
    await willed.next('connack')
    willed.socket.destroy()
    await until('the will is refused', async () => await refusals(topo, 'topic_length') === before + 1)
    assert.equal(got.messages.length, 0)
  })

  test('a PUBLISH with more topic levels than the limit closes that connection', async () => {
    const others = await bystander(url)
    const before = await refusals(topo, 'topic_levels')
    const raw = await rawSession(url)
    raw.send({ cmd: 'publish', topic: 'a/b/c/d/e', payload: Buffer.from('deep'), qos: 0, retain: false, dup: false })
    await raw.closedByBroker()
    assert.equal(await refusals(topo, 'topic_levels'), before + 1)
    await others.check()
  })

  test('[MQTT-3.9.3-2] a SUBSCRIBE filter over either limit gets 0x80 and the other filters in the packet are granted', async () => {
    const before = (await refusals(topo, 'topic_length')) + (await refusals(topo, 'topic_levels'))
    const raw = await rawSession(url)
    assert.deepEqual(await subscribe(raw, [['ok/+', 1], ['long/' + 'x'.repeat(40), 1], ['a/b/c/d/#', 0], ['a/b/c/#', 0]]), [1, 128, 128, 0])
    assert.equal((await refusals(topo, 'topic_length')) + (await refusals(topo, 'topic_levels')), before + 2)
    assert.equal(raw.closed, false)
  })
})

describe('limits.maxSubscriptionsPerClient', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'max-subscriptions-per-client': '3' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('[MQTT-3.9.3-2] filters beyond the limit get 0x80, the first ones are granted and deliver', async () => {
    const others = await bystander(url)
    const before = await refusals(topo, 'subscriptions')
    const p = unique('subs')
    const raw = await rawSession(url)
    assert.deepEqual(await subscribe(raw, [1, 2, 3, 4, 5].map(i => [`${p}/${i}`, 0])), [0, 0, 0, 128, 128])
    assert.equal(await refusals(topo, 'subscriptions'), before + 2)
    const pub = await connect(url)
    await pub.publishAsync(`${p}/3`, 'third', { qos: 1 })
    assert.equal((await raw.next('publish') as Packet & { payload: Buffer }).payload.toString(), 'third')
    await others.check()
  })

  test('subscribing again to a held filter does not count, and an unsubscribe frees a place', async () => {
    const p = unique('resub')
    const raw = await rawSession(url)
    assert.deepEqual(await subscribe(raw, [[`${p}/1`, 0], [`${p}/2`, 0], [`${p}/3`, 0]]), [0, 0, 0])
    assert.deepEqual(await subscribe(raw, [[`${p}/2`, 1]]), [1])
    assert.deepEqual(await subscribe(raw, [[`${p}/4`, 1]]), [128])
    raw.send({ cmd: 'unsubscribe', messageId: ++nextMessageId, unsubscriptions: [`${p}/1`] })
    await raw.next('unsuback')
    assert.deepEqual(await subscribe(raw, [[`${p}/4`, 1]]), [1])
  })
})

describe('limits.maxInflight', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'max-inflight': '2' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('at most the limit of QoS 1 messages await PUBACK; the rest follow in order as PUBACKs arrive', async () => {
    const topic = unique('inflight')
    const slow = await rawSession(url)
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] })
    await slow.next('suback')
    const fast = await connect(url)
    const fastGot = collect(fast)
    await fast.subscribeAsync(topic, { qos: 1 })
    const before = await refusals(topo, 'inflight')
    const pub = await connect(url)
    for (let i = 1; i <= 5; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 })
    // Another client on the node gets everything at once.
    assert.deepEqual((await fastGot.waitFor(5)).map(m => m.payload), ['m1', 'm2', 'm3', 'm4', 'm5'])
    const first = await slow.next('publish') as Packet & { messageId: number, payload: Buffer }
    const second = await slow.next('publish') as Packet & { messageId: number, payload: Buffer }
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(slow.packets.filter(p => p.cmd === 'publish').length, 0, 'a third message went out before a PUBACK')
    assert.equal(await refusals(topo, 'inflight'), before + 3)
    // A PUBACK for an identifier that is not in flight frees nothing.
    slow.send({ cmd: 'puback', messageId: (first.messageId + 1000) % 65536 || 1 })
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(slow.packets.filter(p => p.cmd === 'publish').length, 0)
    const payloads = [first.payload.toString(), second.payload.toString()]
    slow.send({ cmd: 'puback', messageId: first.messageId })
    const third = await slow.next('publish') as Packet & { messageId: number, payload: Buffer }
    payloads.push(third.payload.toString())
    for (const p of [second, third]) slow.send({ cmd: 'puback', messageId: p.messageId })
    for (let i = 0; i < 2; i++) {
      const next = await slow.next('publish') as Packet & { messageId: number, payload: Buffer }
      payloads.push(next.payload.toString())
      slow.send({ cmd: 'puback', messageId: next.messageId })
    }
    assert.deepEqual(payloads, ['m1', 'm2', 'm3', 'm4', 'm5'])
  })

  test('a QoS 0 message waits behind held QoS 1 messages, so the order is kept', async () => {
    const topic = unique('order')
    const slow = await rawSession(url)
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] })
    await slow.next('suback')
    const pub = await connect(url)
    for (let i = 1; i <= 3; i++) await pub.publishAsync(topic, `q1 ${i}`, { qos: 1 })
    await pub.publishAsync(topic, 'q0', { qos: 0 })
    const order: string[] = []
    for (let i = 0; i < 4; i++) {
      const p = await slow.next('publish') as Packet & { messageId?: number, payload: Buffer, qos: number }
      order.push(p.payload.toString())
      if (p.qos > 0) slow.send({ cmd: 'puback', messageId: p.messageId as number })
    }
    assert.deepEqual(order, ['q1 1', 'q1 2', 'q1 3', 'q0'])
  })
})

/** Held deliveries of a persistent session survive its connection: they are in its stored queue. */
for (const mode of ['standalone', 'redis-cluster'] as const) {
  describe(`limits.maxInflight with a persistent session (${mode})`, { timeout: 60_000 }, () => {
    let topo: Topology
    let redis: TestRedis | undefined
    before(async () => {
      redis = mode === 'redis-cluster' ? await useRedisCluster() : undefined
      const cluster: Record<string, string> = redis === undefined ? {} : { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() }
      topo = await startNodes(mode === 'standalone' ? 1 : 2, { 'max-inflight': '1', ...cluster })
    })
    afterEach(closeAll)
    after(async () => {
      await topo.close()
      await redis?.stop()
    })

    test('[MQTT-4.4.0-1] messages held back when the connection closed are sent after the session resumes', async () => {
      const topic = unique('held')
      const clientId = unique('persistent')
      const first = await rawConnect(topo.urls[0] as string)
      first.send(connectPacket(clientId, { clean: false }))
      await first.next('connack')
      first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] })
      await first.next('suback')
      const pub = await connect(topo.urls[0] as string)
      for (let i = 1; i <= 3; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 })
      assert.equal((await first.next('publish') as Packet & { payload: Buffer }).payload.toString(), 'm1')
      first.socket.destroy()
      await first.closedByBroker()
      const again = await rawConnect(topo.urls[topo.urls.length - 1] as string)
      again.send(connectPacket(clientId, { clean: false }))
      assert.equal((await again.next('connack') as Packet & { sessionPresent: boolean }).sessionPresent, true)
      const payloads: string[] = []
      for (let i = 0; i < 3; i++) {
        const p = await again.next('publish', 10_000) as Packet & { messageId: number, payload: Buffer }
        payloads.push(p.payload.toString())
        again.send({ cmd: 'puback', messageId: p.messageId })
      }
      assert.deepEqual(payloads, ['m1', 'm2', 'm3'])
    })
  })
}

describe('limits.publishRate', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'publish-rate': '5' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('a client publishing faster than the rate is slowed, loses nothing, and does not hold up other publishers', async () => {
    const topic = unique('rate')
    const sub = await connect(url)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const before = await refusals(topo, 'publish_rate')
    const fast = await connect(url)
    const sends = Array.from({ length: 15 }, async (_, i) => await fast.publishAsync(topic, `fast ${i + 1}`, { qos: 0 }))
    await until('the fast publisher is being slowed', async () => await refusals(topo, 'publish_rate') > before)
    const other = await connect(url)
    await other.publishAsync(topic, 'other', { qos: 1 })
    await Promise.all(sends)
    const messages = (await got.waitFor(16, 15_000)).map(m => m.payload)
    assert.deepEqual(messages.filter(m => m.startsWith('fast')), Array.from({ length: 15 }, (_, i) => `fast ${i + 1}`))
    assert.ok(messages.indexOf('other') < messages.indexOf('fast 15'), 'the other client waited for the slowed one')
  })
})

describe('limits.connectionRate', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'connection-rate': '3' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('connections from one address beyond the rate are closed before CONNECT is read, and connected clients keep working', async () => {
    const others = await bystander(url)
    const before = await refusals(topo, 'connection_rate')
    const burst = await Promise.all(Array.from({ length: 6 }, async () => await rawConnect(url)))
    // At most 3 fit in one second, and the bystander already took 2 of them.
    await until('at least 3 connections of the burst are closed', () => burst.filter(r => r.closed).length >= 3)
    const closed = burst.filter(r => r.closed)
    assert.ok(closed.every(r => r.packets.length === 0))
    assert.ok(await refusals(topo, 'connection_rate') >= before + 3)
    await others.check()
  })
})

describe('mqtt.maxPacketSize', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'mqtt-max-packet-size': '1024' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('a packet larger than the maximum closes that connection and is counted as a limit', async () => {
    const others = await bystander(url)
    const before = await refusals(topo, 'packet_size')
    const raw = await rawSession(url)
    raw.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false })
    await raw.closedByBroker()
    await until('the refusal is counted', async () => await refusals(topo, 'packet_size') === before + 1)
    await others.check()
  })
})
