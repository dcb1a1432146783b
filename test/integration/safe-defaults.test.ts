/**
 * Defaults that give nothing away: an anonymous `$SYS/#` subscriber sees no other
 * client's id or subscription (aedes' `$SYS/<broker id>/new/…` announcements stay on
 * their node), and a node without admin.token answers every admin request with 401.
 * Two nodes on the Redis Cluster, clients on both.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { isAedesSysTopic } from '../../src/aedes/internal-sys.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'

describe('safe defaults on two nodes', { timeout: 120_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix(), 'sys-interval': '1', 'admin-token': '' })
  })
  after(async () => {
    await closeAll()
    await topo.close()
    await redis.stop()
  })

  test('an anonymous $SYS/# subscriber sees no client id but its own, and still gets slotmq\'s statistics', async () => {
    const watcherId = unique('watcher')
    const watcher = await connect(topo.urls[0] ?? '', { clientId: watcherId })
    const seen = collect(watcher)
    const markers = unique('marker')
    await watcher.subscribeAsync(['$SYS/#', `${markers}/#`], { qos: 0 })
    // Others connect, subscribe, unsubscribe and leave, on this node and on the other one;
    // each then publishes a marker, which reaches the watcher after anything their
    // connection made aedes announce (same node and origin: in order).
    const others = [unique('other-a'), unique('other-b'), unique('other-c'), unique('other-d')]
    for (const [i, id] of others.entries()) {
      const url = topo.urls[i % 2] ?? ''
      const other = await connect(url, { clientId: id })
      await other.subscribeAsync(`secret/${id}/#`, { qos: 1 })
      await other.unsubscribeAsync(`secret/${id}/#`)
      await other.endAsync()
      const marker = await connect(url, { clientId: `${id}-m` })
      await marker.publishAsync(`${markers}/${id}`, 'after', { qos: 1 })
      await marker.endAsync()
    }
    await until('every marker arrived', () => others.every(id => seen.messages.some(m => m.topic === `${markers}/${id}`)), 20_000)
    await until('slotmq\'s own $SYS statistics arrive', () => seen.messages.some(m => m.topic.startsWith('$SYS/brokers/')), 10_000)
    const sys = seen.messages.filter(m => m.topic.startsWith('$SYS/'))
    assert.deepEqual(sys.filter(m => isAedesSysTopic(m.topic)).map(m => m.topic), [], 'no aedes announcement reached the client')
    for (const m of sys) {
      for (const id of others) {
        assert.ok(!m.topic.includes(id) && !m.payload.includes(id), `${m.topic} ${m.payload} names ${id}`)
      }
    }
  })

  test('aedes\' announcements of one node do not reach another node, even one listening for them', async (t) => {
    const origin = topo.nodes[0]
    const listener = topo.nodes[1]
    assert.ok(origin?.cluster !== undefined && listener?.cluster !== undefined, 'two Redis-backed nodes')
    const markers = unique('sys-marker')
    const heard: string[] = []
    const deliver = (packet: { topic: string, payload: unknown }, cb: () => void): void => {
      heard.push(`${packet.topic} ${String(packet.payload)}`)
      cb()
    }
    // A listener on node 1's aedes, as aedes' own are: node 1 routes these filters to itself.
    const filters = ['$SYS/+/new/clients', `${markers}/#`]
    for (const f of filters) await new Promise<void>(resolve => listener.aedes.subscribe(f, deliver, () => resolve()))
    t.after(async () => {
      for (const f of filters) await new Promise<void>(resolve => listener.aedes.unsubscribe(f, deliver, () => resolve()))
    })
    const member = listener.cluster.memberId
    await until('node 0 routes both filters to node 1', () =>
      origin.cluster?.table.match(`$SYS/${origin.brokerId}/new/clients`).has(member) === true && origin.cluster.table.match(`${markers}/m`).has(member), 5000)
    const id = unique('announced')
    const client = await connect(topo.urls[0] ?? '', { clientId: id })
    // Published on node 0 after aedes announced the client there: it reaches node 1 after
    // the announcement would have (same sender and inbox, in order).
    await client.publishAsync(`${markers}/m`, 'after', { qos: 0 })
    await until('the marker reached node 1', () => heard.some(h => h.startsWith(`${markers}/m `)), 5000, { observed: () => heard })
    assert.deepEqual(heard.filter(h => h.startsWith(`$SYS/${origin.brokerId}/`)), [], `node 0's announcements reached node 1 (client ${id})`)
  })

  test('without admin.token an admin GET gets 401, and /metrics and /ready need no token', async () => {
    const base = `http://127.0.0.1:${topo.nodes[1]?.http?.port ?? 0}`
    for (const path of ['/admin/clients', '/admin/nodes', '/sessions/anyone', '/admin/sessions/anyone']) {
      const res = await fetch(base + path)
      assert.equal(res.status, 401, path)
      assert.match(await res.text(), /set admin\.token/)
    }
    assert.equal((await fetch(base + '/metrics')).status, 200)
    assert.equal((await fetch(base + '/ready')).status, 200)
  })
})

test('isAedesSysTopic: aedes\' announcements, not slotmq\'s statistics', () => {
  assert.equal(isAedesSysTopic('$SYS/node-1~ab12cd34/new/clients'), true)
  assert.equal(isAedesSysTopic('$SYS/node-1~ab12cd34/new/subscribes'), true)
  assert.equal(isAedesSysTopic('$SYS/x/heartbeat'), true)
  assert.equal(isAedesSysTopic('$SYS/brokers/new/clients'), false, 'a slotmq node named "new"? still its statistics tree')
  assert.equal(isAedesSysTopic('$SYS/broker/clients/connected'), false)
  assert.equal(isAedesSysTopic('$SYS/brokers/node-1/clients/connected'), false)
  assert.equal(isAedesSysTopic('$SYS/node-1~ab/new/clients/extra'), false)
  assert.equal(isAedesSysTopic('other/x/new/clients'), false)
})
