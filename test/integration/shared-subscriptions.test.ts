/**
 * Shared subscriptions ($share/<group>/<filter>, [MQTT-4.8.2] of MQTT 5, used by MQTT
 * 3.1.1 clients): standalone, and three nodes on the real Redis Cluster with the group's
 * members spread over them. Strategies are tested in shared-strategies.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { clientsOf } from '../../src/aedes/internals.js'
import { closeAll, collect, connect, connectLater, connectPacket, expectNoMore, rawConnect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { duplicates, groupQuiet, groupReceived, member, metricSum, payloads, publishAll, silentMember, total, type Member } from '../helpers/shared-subs.js'
import { until } from '../helpers/until.js'

const MESSAGES = 10_000

let redis: TestRedis | undefined
before(async () => { redis = await useRedisCluster() })
after(async () => {
  await closeAll()
  await redis?.stop()
})

function sharedSuite (name: string, start: () => Promise<Topology>): void {
  describe(name, () => {
    let topo: Topology
    before(async () => { topo = await start() })
    after(async () => { await topo.close() })
    const url = (i: number): string => topo.urls[i % topo.urls.length] ?? ''

    test('[MQTT-4.8.2] 5 members on 3 nodes: each of 10,000 QoS 1 messages reaches the group exactly once, and an ordinary subscriber gets all', async () => {
      const topic = unique('shared/all')
      const members: Member[] = []
      for (let i = 0; i < 5; i++) members.push(await member(url(i), `$share/workers/${topic}`))
      const ordinary = await member(url(1), topic)
      const publishers = await Promise.all([0, 1, 2].map(async i => await connect(url(i))))
      const sent = payloads('all', MESSAGES)
      await Promise.all(publishers.map(async (p, i) => await publishAll(p, topic, sent.filter((_, j) => j % 3 === i))))

      await groupReceived(members, MESSAGES)
      await groupReceived([ordinary], MESSAGES)
      await groupQuiet(members, MESSAGES, publishers)
      assert.deepEqual(duplicates(members), [])
      assert.deepEqual(new Set(members.flatMap(m => m.payloads)), new Set(sent))
      assert.equal(ordinary.payloads.length, MESSAGES)
      assert.deepEqual(new Set(ordinary.payloads), new Set(sent))
      for (const m of members) assert.ok(m.payloads.length > 0, 'every member gets a share')
    })

    test('a member killed mid-run (socket destroyed) loses none of the messages it had not acknowledged: they go to the other members', async () => {
      const topic = unique('shared/kill')
      const members: Member[] = []
      for (let i = 0; i < 4; i++) members.push(await member(url(i), `$share/workers/${topic}`))
      const silent = await silentMember(url(2), `$share/workers/${topic}`)
      const publishers = await Promise.all([0, 1, 2].map(async i => await connect(url(i))))
      const sent = payloads('kill', MESSAGES)
      const publishing = Promise.all(publishers.map(async (p, i) => await publishAll(p, topic, sent.filter((_, j) => j % 3 === i))))

      await until('the silent member holds unacknowledged messages', () => silent.packets.filter(p => p.cmd === 'publish').length >= 100, 30_000)
      silent.socket.destroy()
      await publishing

      await groupReceived(members, MESSAGES)
      await groupQuiet(members, MESSAGES, publishers)
      assert.deepEqual(duplicates(members), [])
      assert.deepEqual(new Set(members.flatMap(m => m.payloads)), new Set(sent))
      assert.ok(await metricSum(topo, 'slotmq_shared_redispatched_total') >= 100, 'counted in slotmq_shared_redispatched_total')
    })

    test('a member that unsubscribes and then leaves without acknowledging: its messages go to the other members', async () => {
      const topic = unique('shared/unsub')
      const filter = `$share/workers/${topic}`
      const members = [await member(url(0), filter), await member(url(1), filter)]
      const silent = await silentMember(url(2), filter)
      const publisher = await connect(url(0))
      const sent = payloads('unsub', 300)
      await publishAll(publisher, topic, sent, 20)
      await until('the silent member holds unacknowledged messages', () => silent.packets.some(p => p.cmd === 'publish'), 10_000)
      silent.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [filter] })
      await silent.next('unsuback')
      silent.socket.destroy()

      await until('every message reached the other members', () => new Set(members.flatMap(m => m.payloads)).size === sent.length, 20_000)
      assert.deepEqual(duplicates(members), [])
    })

    test('a persistent member killed with messages unacknowledged: they go to the other members, and are not sent again when its session resumes', async () => {
      const topic = unique('shared/persistent')
      const filter = `$share/workers/${topic}`
      const members = [await member(url(0), filter), await member(url(1), filter)]
      const id = unique('persistent-member')
      const raw = await rawConnect(url(2))
      raw.send(connectPacket(id, { clean: false }))
      await raw.next('connack')
      const markerTopic = unique('persistent-marker')
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }, { topic: markerTopic, qos: 1 }] })
      await raw.next('suback')
      const publisher = await connect(url(0))
      const sent = payloads('persistent', 300)
      await publishAll(publisher, topic, sent, 20)
      await until('the persistent member holds unacknowledged messages', () => raw.packets.some(p => p.cmd === 'publish'), 10_000)
      raw.socket.destroy()

      await until('every message reached the other members', () => new Set(members.flatMap(m => m.payloads)).size === sent.length, 20_000)
      assert.deepEqual(duplicates(members), [])
      // The marker: a message for the session's own subscription, queued while it is away,
      // after anything of the group its session might still hold; a session is replayed in order.
      await publisher.publishAsync(markerTopic, 'marker', { qos: 1 })
      const resumed = connectLater(url(2), { clientId: id, clean: false })
      const again = collect(resumed.client)
      assert.equal((await resumed.connected()).sessionPresent, true)
      await expectNoMore(again, 0, { payload: 'marker', send: async () => {} })
    })

    test('[MQTT-4.8.2] retained messages are not sent to a new shared subscription; a live retained publish reaches the group', async () => {
      const topic = unique('shared/retained')
      const publisher = await connect(url(0))
      await publisher.publishAsync(topic, 'stored', { qos: 1, retain: true })
      const ordinary = await connect(url(1))
      const ordinaryGot = collect(ordinary)
      await ordinary.subscribeAsync(topic, { qos: 1 })
      await ordinaryGot.waitFor(1)
      const shared = await connect(url(2))
      const sharedGot = collect(shared)
      // The marker: a retained message asked for in the same SUBSCRIBE after the shared
      // filter; retained messages are looked up filter by filter, in the packet's order.
      const markerTopic = unique('shared/retained-marker')
      await publisher.publishAsync(markerTopic, 'marker', { qos: 1, retain: true })
      await expectNoMore(sharedGot, 0, { payload: 'marker', send: async () => await shared.subscribeAsync({ [`$share/g/${topic}`]: { qos: 1 }, [markerTopic]: { qos: 1 } }) })
      await shared.unsubscribeAsync(markerTopic)
      await publisher.publishAsync(markerTopic, '', { qos: 1, retain: true })

      await publisher.publishAsync(topic, 'live', { qos: 1, retain: true })
      const live = (await sharedGot.waitFor(2))[1]
      assert.equal(live?.payload, 'live')
      await publisher.publishAsync(topic, '', { qos: 1, retain: true })
    })

    test('a $share filter with an invalid group name or no filter gets SUBACK 0x80; the valid ones in the same SUBSCRIBE are granted', async () => {
      const raw = await rawConnect(url(0))
      raw.send(connectPacket(unique('invalid')))
      await raw.next('connack')
      const topics = ['$share//a', '$share/g', '$share/g/', '$share/g+/a', '$share/#/a', '$share/g/valid', '$share']
      raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: topics.map(topic => ({ topic, qos: 1 })) })
      const suback = await raw.next('suback') as unknown as { granted: number[] }
      assert.deepEqual(suback.granted, [0x80, 0x80, 0x80, 0x80, 0x80, 1, 0x80])
      assert.equal(raw.closed, false)
    })

    test('a member that acknowledged its messages and leaves: none of them is given to another member', async () => {
      const topic = unique('shared/acked')
      const leaving = await member(url(0), `$share/workers/${topic}`)
      const stays = await member(url(1), `$share/workers/${topic}`)
      const publisher = await connect(url(0))
      const sent = payloads('acked', 200)
      await publishAll(publisher, topic, sent, 20)
      await groupReceived([leaving, stays], sent.length)
      assert.ok(leaving.payloads.length > 0, 'the leaving member got a share')
      // mqtt.js acknowledges each message as it arrives: its PUBACKs are on the wire
      // before its DISCONNECT.
      const leavingId = leaving.client.options.clientId ?? ''
      await leaving.client.endAsync()
      const node = topo.nodes[0]?.aedes
      assert.ok(node !== undefined, 'the leaving member\'s node')
      await until('the node let the member go', () => clientsOf(node)[leavingId] === undefined, 5000, { observed: () => Object.keys(clientsOf(node)) })
      // Published on the leaving member's node after it left: a message given to the group
      // again would reach the member that stays before this one.
      await publisher.publishAsync(topic, 'marker', { qos: 1 })
      await until('the marker reached the member that stays', () => stays.payloads.includes('marker'), 10_000, { observed: () => stays.payloads.slice(-5) })
      assert.deepEqual(duplicates([leaving, stays]), [], 'acknowledged messages were given to another member')
    })

    test('messages reach the group only while it has a member; after the last member unsubscribes, an ordinary subscriber still gets them', async () => {
      const topic = unique('shared/leave')
      const m = await member(url(0), `$share/g/${topic}`)
      const ordinary = await member(url(1), topic)
      const publisher = await connect(url(2))
      await publisher.publishAsync(topic, 'one', { qos: 1 })
      await groupReceived([m], 1)
      await m.client.unsubscribeAsync(`$share/g/${topic}`)
      await publisher.publishAsync(topic, 'two', { qos: 1 })
      await groupReceived([ordinary], 2)
      assert.deepEqual(m.payloads, ['one'])
      assert.equal(total([m, ordinary]), 3)
    })
  })
}

sharedSuite('shared subscriptions, standalone', async () => await startNodes(1))
sharedSuite('shared subscriptions, three nodes on a Redis Cluster', async () =>
  await startNodes(3, { redis: (redis?.seeds ?? []).join(','), 'redis-prefix': uniquePrefix() }))

test('access control rules see the inner filter of a $share subscription', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slotmq-shared-acl-'))
  const file = join(dir, 'auth.json')
  await writeFile(file, JSON.stringify({ users: {}, acl: [{ anonymous: true, action: 'all', topic: 'public/#' }] }))
  const topo = await startNodes(1, { 'auth-file': file })
  t.after(async () => {
    await topo.close()
    await rm(dir, { recursive: true, force: true })
  })
  const raw = await rawConnect(topo.urls[0] ?? '')
  raw.send(connectPacket(unique('acl')))
  await raw.next('connack')
  raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: '$share/g/public/a', qos: 1 }, { topic: '$share/g/private/a', qos: 1 }] })
  const suback = await raw.next('suback') as unknown as { granted: number[] }
  assert.deepEqual(suback.granted, [1, 0x80])
})
