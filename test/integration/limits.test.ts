/**
 * Per-node limits: each refuses with its documented answer (CONNACK code, SUBACK 0x80, a
 * closed connection, a slowed reader), counts it in
 * slotmq_limit_refused_total{limit} and leaves every other client on the node working.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Packet } from 'mqtt-packet'
import { bystander, rawSession, refusals, subscribe } from '../helpers/limits.js'
import { closeAll, collect, connect, connectPacket, expectNoMore, rawConnect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { until, within } from '../helpers/until.js'

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
    await until('the will is refused', async () => await refusals(topo, 'topic_length') === before + 1, 5000, { observed: async () => await refusals(topo, 'topic_length') })
    // The will would be published right after its refusal was counted; a message published
    // on the node after that comes after it.
    const marker = await connect(url)
    await expectNoMore(got, 0, { payload: 'marker', send: async () => await marker.publishAsync('will/marker', 'marker', { qos: 1 }) })
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
    raw.send({ cmd: 'unsubscribe', messageId: 999, unsubscriptions: [`${p}/1`] })
    await raw.next('unsuback')
    assert.deepEqual(await subscribe(raw, [[`${p}/4`, 1]]), [1])
  })
})

describe('limits.maxSubscriptionsPerClient with access control rules', { timeout: 30_000 }, () => {
  let topo: Topology
  let dir: string
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slotmq-limits-'))
    const authFile = join(dir, 'auth.json')
    writeFileSync(authFile, JSON.stringify({ acl: [{ action: 'all', topic: '#' }, { permission: 'deny', action: 'subscribe', topic: 'secret/#' }] }))
    topo = await startNodes(1, { 'max-subscriptions-per-client': '2', 'auth-file': authFile })
  })
  afterEach(closeAll)
  after(async () => {
    await topo.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a filter the ACL refuses gets 0x80 and takes no place under the limit', async () => {
    const raw = await rawSession(topo.urls[0] as string)
    assert.deepEqual(await subscribe(raw, [['secret/a', 1], ['open/1', 1]]), [128, 1])
    assert.deepEqual(await subscribe(raw, [['open/2', 1]]), [1])
    assert.deepEqual(await subscribe(raw, [['open/3', 1]]), [128])
  })

  test('a filter over a limit is refused by the limit before the ACL sees it', async () => {
    const aclDenied = async (): Promise<string> => await topo.nodes[0]?.metrics.registry.getSingleMetricAsString('slotmq_acl_denied_total') ?? ''
    const before = { limit: await refusals(topo, 'topic_length'), acl: await aclDenied() }
    const raw = await rawSession(topo.urls[0] as string)
    assert.deepEqual(await subscribe(raw, [['secret/' + 'x'.repeat(5000), 1]]), [128])
    assert.equal(await refusals(topo, 'topic_length'), before.limit + 1)
    assert.equal(await aclDenied(), before.acl)
  })
})

describe('limits.publishRate', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'publish-rate': '5' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('a client publishing faster than the rate is slowed and loses nothing; another client publishing meanwhile is delivered', async () => {
    const topic = unique('rate')
    const sub = await connect(url)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const before = await refusals(topo, 'publish_rate')
    const fast = await connect(url)
    const sends = Array.from({ length: 15 }, async (_, i) => await fast.publishAsync(topic, `fast ${i + 1}`, { qos: 0 }))
    await until('the fast publisher is being slowed', async () => await refusals(topo, 'publish_rate') > before, 5000, { observed: async () => await refusals(topo, 'publish_rate') })
    const other = await connect(url)
    await other.publishAsync(topic, 'other', { qos: 1 })
    await within('the fast publisher\'s sends', Promise.all(sends), 15_000)
    const messages = (await got.waitFor(16, 15_000)).map(m => m.payload)
    assert.deepEqual(messages.filter(m => m.startsWith('fast')), Array.from({ length: 15 }, (_, i) => `fast ${i + 1}`))
    assert.deepEqual(messages.filter(m => m === 'other'), ['other'])
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
    assert.deepEqual(closed.map(r => r.packets.map(p => p.cmd)).filter(cmds => cmds.length > 0), [], 'closed before anything was sent back')
    const refused = await refusals(topo, 'connection_rate')
    assert.ok(refused >= before + 3, `at least 3 refusals counted: ${refused - before}`)
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
