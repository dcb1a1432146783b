/**
 * README "Shared subscriptions": a member whose connection closes (DISCONNECT, a network
 * error, a keep-alive timeout, a takeover) with QoS 1 messages it had not acknowledged
 * has them given to another member of the group, on any node. The network error (socket
 * destroyed) is in shared-subscriptions.test.ts; here the other three ways a member
 * leaves, on three nodes of the real Redis Cluster, the leaving member on another node
 * than the members that stay.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { clientsOf } from '../../src/aedes/internals.js'
import { closeAll, connect, connectLater, connectPacket, rawConnect, unique, type RawClient } from '../helpers/mqtt.js'
import { adminHeaders, startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { duplicates, member, payloads, publishAll, type Member } from '../helpers/shared-subs.js'
import { until } from '../helpers/until.js'

let redis: TestRedis
let topo: Topology

before(async () => {
  redis = await useRedisCluster()
  topo = await startNodes(3, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() })
})
after(async () => {
  await closeAll()
  await topo.close()
  await redis.stop()
})

/**
 * Two acknowledging members on nodes 0 and 1 and one member on node 2 that never
 * acknowledges; 300 QoS 1 messages from node 0. Resolves once the silent member holds
 * unacknowledged messages, with what the test needs to make it leave and to check.
 */
async function groupWithSilentMember (tag: string, connectOpts: Record<string, unknown> = {}): Promise<{ members: Member[], silent: RawClient, clientId: string, sent: string[] }> {
  const topic = unique(`shared/${tag}`)
  const filter = `$share/workers/${topic}`
  const members = [await member(topo.urls[0] ?? '', filter), await member(topo.urls[1] ?? '', filter)]
  const clientId = unique(`silent-${tag}`)
  const silent = await rawConnect(topo.urls[2] ?? '')
  silent.send(connectPacket(clientId, connectOpts))
  await silent.next('connack')
  silent.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] })
  const suback = await silent.next('suback') as unknown as { granted: number[] }
  assert.deepEqual(suback.granted, [1])
  const publisher = await connect(topo.urls[0] ?? '')
  const sent = payloads(tag, 300)
  await publishAll(publisher, topic, sent, 20)
  await until('the silent member holds unacknowledged messages', () => silent.packets.some(p => p.cmd === 'publish'), 10_000)
  return { members, silent, clientId, sent }
}

async function everyMessageReachedTheOthers (members: Member[], sent: string[], silent: RawClient): Promise<void> {
  const held = silent.packets.filter(p => p.cmd === 'publish').length
  await until(`every message reached the other members (the silent one held ${held})`, () => new Set(members.flatMap(m => m.payloads)).size === sent.length, 20_000)
    .catch(() => assert.fail(`the other members got ${new Set(members.flatMap(m => m.payloads)).size} of ${sent.length} (the silent one held ${held})`))
  assert.deepEqual(new Set(members.flatMap(m => m.payloads)), new Set(sent))
  assert.deepEqual(duplicates(members), [])
}

describe('a persistent shared subscription member while it is offline', () => {
  test('[MQTT-4.8.2] is no member: the other members get every message and nothing is queued in its session', async () => {
    const topic = unique('shared/offline')
    const filter = `$share/workers/${topic}`
    const id = unique('offline-member')
    const away = await connect(topo.urls[2] ?? '', { clientId: id, clean: false })
    await away.subscribeAsync(filter, { qos: 1 })
    await away.endAsync()
    const other = await member(topo.urls[1] ?? '', filter)
    const publisher = await connect(topo.urls[0] ?? '')
    const sent = payloads('offline', 100)
    // Each publish is acknowledged after anything queued for it was queued.
    await publishAll(publisher, topic, sent, 20)
    await until('the other member got every message', () => new Set(other.payloads).size === sent.length, 10_000)
      .catch(() => assert.fail(`the other member got ${new Set(other.payloads).size} of ${sent.length}`))
    const res = await fetch(`http://127.0.0.1:${topo.nodes[0]?.http?.port ?? 0}/sessions/${encodeURIComponent(id)}`, { headers: adminHeaders })
    const session = await res.json() as { connected: boolean, queued: number, subscriptions: Array<{ topic: string }> }
    assert.equal(session.connected, false)
    assert.deepEqual(session.subscriptions.map(s => s.topic), [filter], 'the session keeps its $share subscription')
    assert.equal(session.queued, 0, 'nothing was queued for the offline member')
  })
})

describe('a shared subscription member leaving with messages unacknowledged', { timeout: 60_000 }, () => {
  test('[MQTT-4.8.2] on DISCONNECT: the other members get every message it had not acknowledged', async () => {
    const { members, silent, sent } = await groupWithSilentMember('disconnect')
    silent.send({ cmd: 'disconnect' })
    await silent.closedByBroker(10_000)
    await everyMessageReachedTheOthers(members, sent, silent)
  })

  test('[MQTT-3.1.2-24] on a keep-alive timeout: the other members get every message it had not acknowledged', async () => {
    // keepalive 1 s: the node closes the silent member 1.5 s after its last packet.
    const { members, silent, sent } = await groupWithSilentMember('keepalive', { keepalive: 1 })
    await silent.closedByBroker(10_000)
    await everyMessageReachedTheOthers(members, sent, silent)
  })

  test('[MQTT-3.1.4-2] on a takeover from another node: the other members get every message it had not acknowledged', async () => {
    const { members, silent, clientId, sent } = await groupWithSilentMember('takeover')
    const successor = connectLater(topo.urls[0] ?? '', { clientId, clean: true })
    await successor.connected()
    await silent.closedByBroker(10_000)
    await everyMessageReachedTheOthers(members, sent, silent)
    assert.equal(successor.client.connected, true, 'the new connection stays')
  })
})

describe('QoS 0 shared messages', { timeout: 60_000 }, () => {
  test('[MQTT-4.8.2] are at most once: what a member that leaves was sent at QoS 0 is not given to another member', async () => {
    const topic = unique('shared/qos0')
    const filter = `$share/workers/${topic}`
    const stays = await member(topo.urls[0] ?? '', filter)
    const clientId = unique('leaving-qos0')
    const leaving = await rawConnect(topo.urls[2] ?? '')
    leaving.send(connectPacket(clientId))
    await leaving.next('connack')
    leaving.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] })
    const suback = await leaving.next('suback') as unknown as { granted: number[] }
    assert.deepEqual(suback.granted, [0])
    // Published on the leaving member's node: a message given to another member when it
    // leaves travels to node 0 on the same inbox channel as the marker below, before it.
    const publisher = await connect(topo.urls[2] ?? '')
    const sent = payloads('qos0', 100)
    for (const p of sent) await publisher.publishAsync(topic, p, { qos: 0 })
    const held = (): string[] => leaving.packets.flatMap(p => p.cmd === 'publish' ? [String((p as { payload: Buffer }).payload)] : [])
    await until('every QoS 0 message reached one member', () => stays.payloads.length + held().length === sent.length, 10_000,
      { observed: () => ({ stays: stays.payloads.length, leaving: held().length, sent: sent.length }) })
    const itsShare = held()
    assert.ok(itsShare.length > 0 && stays.payloads.length > 0, `both members got some (${itsShare.length} and ${stays.payloads.length})`)
    leaving.socket.destroy()
    const node = topo.nodes[2]?.aedes
    assert.ok(node !== undefined, 'the leaving member\'s node')
    // aedes removes a closing client's subscriptions (a member's unacknowledged messages go
    // to the group then) before it unregisters the client.
    await until('the node let the member go', () => clientsOf(node)[clientId] === undefined, 5000, { observed: () => Object.keys(clientsOf(node)) })
    await publisher.publishAsync(topic, 'marker', { qos: 0 })
    await until('the marker reached the member that stays', () => stays.payloads.includes('marker'), 10_000, { observed: () => stays.payloads.slice(-5) })
    const again = stays.payloads.filter(p => itsShare.includes(p))
    assert.deepEqual(again, [], 'QoS 0 messages the leaving member had been sent were given to the member that stays')
  })
})
