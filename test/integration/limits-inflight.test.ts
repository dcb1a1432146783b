/**
 * limits.maxInflight: at most that many outgoing QoS 1/2 messages per connection await
 * their acknowledgement; the rest wait in order, counted in
 * slotmq_limit_refused_total{limit="inflight"}, and nothing is lost.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Packet } from 'mqtt-packet'
import { refusals, rawSession } from '../helpers/limits.js'
import { closeAll, collect, connect, connectPacket, rawConnect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'

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
    // The publisher had every PUBACK, so each delivery to `slow` was written or held by
    // then; two ping round trips on `slow` come after any write that was scheduled.
    await slow.ping()
    await slow.ping()
    assert.deepEqual(slow.packets.filter(p => p.cmd === 'publish').map(p => (p as Packet & { payload: Buffer }).payload.toString()), [], 'a third message went out before a PUBACK')
    assert.equal(await refusals(topo, 'inflight'), before + 3)
    // A PUBACK for an identifier that is not in flight frees nothing: a message it freed
    // would be written (next event loop turn) before the answer to the second ping.
    slow.send({ cmd: 'puback', messageId: (first.messageId + 1000) % 65536 || 1 })
    await slow.ping()
    await slow.ping()
    assert.deepEqual(slow.packets.filter(p => p.cmd === 'publish').map(p => (p as Packet & { payload: Buffer }).payload.toString()), [], 'a PUBACK for an identifier not in flight freed a place')
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
    // Nothing is acknowledged before q0 has reached `slow`'s connection (written or held):
    // the PUBACK of a later QoS 1 publish of the same client follows its handing over, and
    // two ping round trips on `slow` follow any write scheduled for it.
    await pub.publishAsync(unique('fence'), 'fence', { qos: 1 })
    await slow.ping()
    await slow.ping()
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
