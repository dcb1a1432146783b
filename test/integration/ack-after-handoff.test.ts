/**
 * Acknowledged means handed off: a QoS 1 PUBACK is written only once the message is in
 * the retained store (RETAIN), the offline queues and Redis's hands for every peer that
 * routes it. Redis is made to hold every write (CLIENT PAUSE WRITE on each primary) while
 * a publish is in progress: the PUBACK must wait for it.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Packet } from 'mqtt-packet'
import { closeAll, collect, connect, connectPacket, rawConnect, unique, type RawClient } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { until } from '../helpers/until.js'
import { primariesOf, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'

describe('PUBACK after hand-off (Redis Cluster)', { timeout: 60_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let primaries: Awaited<ReturnType<typeof primariesOf>>

  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() })
    primaries = await primariesOf(redis.seeds)
  })
  after(async () => {
    await primaries.close()
    await closeAll()
    await topo.close()
    await redis.stop()
  })

  const pause = async (): Promise<void> => { await primaries.pause() }
  const unpause = async (): Promise<void> => { await primaries.unpause() }

  /**
   * A raw publisher on node 0 that also subscribes to a marker topic of its own (QoS 0,
   * local only). `marker()` publishes on it and waits for the echo: everything the node
   * had to write to this connection before handling the marker (a PUBACK written when the
   * PUBLISH arrived, as aedes alone does) has arrived by then.
   */
  async function publisher (): Promise<{ raw: RawClient, marker: () => Promise<void> }> {
    const raw = await rawConnect(topo.urls[0] as string)
    const markerTopic = unique('marker')
    raw.send(connectPacket(unique('pub')))
    await raw.next('connack')
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: markerTopic, qos: 0 }] } as Packet)
    await raw.next('suback')
    return {
      raw,
      marker: async () => {
        raw.send({ cmd: 'publish', topic: markerTopic, payload: Buffer.from('m'), qos: 0, retain: false, dup: false } as Packet)
        await raw.next('publish')
      }
    }
  }

  const pubacks = (raw: RawClient): number[] => raw.packets.filter(p => p.cmd === 'puback').map(p => (p as { messageId: number }).messageId)

  test('a QoS 1 PUBACK waits until Redis accepted the frame for the subscriber\'s node', async () => {
    const topic = unique('handoff')
    const sub = await connect(topo.urls[1] as string)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const { raw, marker } = await publisher()
    await pause()
    try {
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('held'), qos: 1, messageId: 7, retain: false, dup: false } as Packet)
      await marker()
      assert.deepEqual(pubacks(raw), [], 'a PUBACK was written while Redis held the frame to the other node')
    } finally {
      await unpause()
    }
    assert.equal((await raw.next('puback') as { messageId: number }).messageId, 7)
    assert.deepEqual((await got.waitFor(1)).map(m => m.payload), ['held'])
  })

  test('a retained QoS 1 PUBACK waits until the retained message is stored; a subscriber after the PUBACK gets it once', async () => {
    const topic = unique('retained-handoff')
    const { raw, marker } = await publisher()
    await pause()
    try {
      raw.send({ cmd: 'publish', topic, payload: Buffer.from('kept'), qos: 1, messageId: 8, retain: true, dup: false } as Packet)
      await marker()
      assert.deepEqual(pubacks(raw), [], 'a PUBACK was written before the retained message was stored')
    } finally {
      await unpause()
    }
    await raw.next('puback')
    for (const [i, url] of topo.urls.entries()) {
      const late = await connect(url)
      const got = collect(late)
      // First (right after the PUBACK) a wildcard matching the topic: the retained index
      // must be written before the PUBACK too; then the topic itself (its key).
      await late.subscribeAsync(i === 0 ? `${topic}/#` : topic, { qos: 1 })
      // A live message after the retained one: once it is in, a second copy of the
      // retained message would have had to come before it.
      await late.publishAsync(topic, 'end', { qos: 1 })
      await got.waitFor(2)
      assert.deepEqual(got.messages.map(m => `${m.payload}:${String(m.retain)}`).sort(), ['end:false', 'kept:true'], `node ${url}: the retained message was not delivered exactly once`)
    }
  })

  test('[MQTT-4.6.0-2] PUBACKs keep the order of their PUBLISH packets when a later one is handed off first', async () => {
    const remote = unique('remote')
    const localOnly = unique('local-only')
    const sub = await connect(topo.urls[1] as string)
    await sub.subscribeAsync(remote, { qos: 1 })
    const { raw, marker } = await publisher()
    await pause()
    try {
      raw.send({ cmd: 'publish', topic: remote, payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false } as Packet)
      raw.send({ cmd: 'publish', topic: localOnly, payload: Buffer.from('2'), qos: 1, messageId: 2, retain: false, dup: false } as Packet)
      await marker()
      assert.deepEqual(pubacks(raw), [], 'the PUBACK of the second PUBLISH overtook the first')
    } finally {
      await unpause()
    }
    await until('both PUBACKs arrived', () => pubacks(raw).length >= 2, 5000)
    assert.deepEqual(pubacks(raw), [1, 2])
  })
})
