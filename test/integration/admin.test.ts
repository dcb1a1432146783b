/**
 * Operations surface: $SYS topics per node and for the whole broker, the admin HTTP API
 * behind its token (nodes, clients, sessions, kick), and `slotmq admin`, on three nodes
 * sharing the real Redis Cluster and on a standalone node.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { adminCommand } from '../../src/admin/command.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'

const TOKEN = 'test-admin-token-0123456789'

function httpUrl (topo: Topology, i: number): string {
  return `http://127.0.0.1:${topo.nodes[i]?.http?.port ?? 0}`
}

async function api (topo: Topology, i: number, path: string, opts: { method?: string, token?: string | null } = {}): Promise<{ status: number, body: any }> {
  const token = opts.token === undefined ? TOKEN : opts.token
  const res = await fetch(httpUrl(topo, i) + path, { method: opts.method ?? 'GET', headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.json() }
}

/** The latest value of each $SYS topic received. */
function sysValues (messages: Array<{ topic: string, payload: string }>): Map<string, string> {
  return new Map(messages.map(m => [m.topic, m.payload]))
}

describe('three nodes on a Redis Cluster', () => {
  let redis: TestRedis
  let topo: Topology

  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(3, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix(), 'sys-interval': '1', 'admin-token': TOKEN })
  })
  after(async () => {
    await closeAll()
    await topo.close()
    await redis.stop()
  })

  test('$SYS/broker/… totals come from one node and sum every node; $SYS/brokers/<node>/… come from each node', async () => {
    const watcher = await connect(topo.urls[0] as string)
    const sys = collect(watcher)
    await watcher.subscribeAsync('$SYS/#', { qos: 0 })
    // One more client on each of the other nodes: 3 connected in all.
    await connect(topo.urls[1] as string)
    await connect(topo.urls[2] as string)
    await until('totals counting 3 nodes and 3 clients', () => {
      const v = sysValues(sys.messages)
      return v.get('$SYS/broker/nodes/count') === '3' && v.get('$SYS/broker/clients/connected') === '3'
    }, 15_000)
    for (const node of topo.nodes) {
      await until(`per-node topics of ${node.nodeId}`, () => sysValues(sys.messages).get(`$SYS/brokers/${node.nodeId}/clients/connected`) === '1', 15_000)
    }
    const v = sysValues(sys.messages)
    assert.equal(v.get(`$SYS/brokers/${topo.nodes[0]?.nodeId ?? ''}/version`), v.get('$SYS/broker/version'))
    assert.ok(Number(v.get('$SYS/broker/uptime')) >= 0)
    // Exactly one node publishes the totals: each round adds one message per total topic.
    const before = sys.messages.filter(m => m.topic === '$SYS/broker/nodes/count').length
    const perNodeBefore = sys.messages.filter(m => m.topic === `$SYS/brokers/${topo.nodes[1]?.nodeId ?? ''}/uptime`).length
    await until('three more rounds', () => sys.messages.filter(m => m.topic === `$SYS/brokers/${topo.nodes[1]?.nodeId ?? ''}/uptime`).length >= perNodeBefore + 3, 15_000)
    const totalsRounds = sys.messages.filter(m => m.topic === '$SYS/broker/nodes/count').length - before
    assert.ok(totalsRounds >= 2 && totalsRounds <= 4, `one totals message per round, got ${totalsRounds} in 3 rounds`)
  })

  test('the admin API refuses requests without the token or with a wrong one (401)', async () => {
    assert.equal((await api(topo, 0, '/admin/nodes', { token: null })).status, 401)
    assert.equal((await api(topo, 0, '/admin/nodes', { token: 'wrong-token-wrong-token' })).status, 401)
    assert.equal((await api(topo, 0, '/sessions/anyone', { token: null })).status, 401)
    assert.equal((await api(topo, 1, '/admin/clients/x/kick', { method: 'POST', token: null })).status, 401)
  })

  test('GET /admin/nodes lists every live node with its lease age and statistics, on any node', async () => {
    await until('every node has reported its statistics', async () => {
      const { body } = await api(topo, 2, '/admin/nodes')
      return Array.isArray(body) && body.length === 3 && body.every((n: any) => n.stats !== undefined)
    }, 10_000)
    const { status, body } = await api(topo, 2, '/admin/nodes')
    assert.equal(status, 200)
    assert.deepEqual(body.map((n: any) => n.memberId).sort(), topo.nodes.map(n => n.cluster?.memberId).sort())
    for (const n of body) {
      assert.ok(n.leaseAgeMs >= 0 && n.leaseAgeMs < 5000, `lease age ${String(n.leaseAgeMs)}`)
      assert.ok(n.leaseExpiresInMs > 0)
      assert.equal(n.self, n.memberId === topo.nodes[2]?.cluster?.memberId)
    }
  })

  test('GET /admin/clients lists the clients of that node only', async () => {
    const clientId = unique('listed')
    await connect(topo.urls[1] as string, { clientId })
    const { body: here } = await api(topo, 1, '/admin/clients')
    const { body: elsewhere } = await api(topo, 0, '/admin/clients')
    const mine = here.find((c: any) => c.clientId === clientId)
    assert.ok(mine !== undefined, 'listed on its node')
    assert.equal(mine.clean, true)
    assert.equal(elsewhere.some((c: any) => c.clientId === clientId), false)
  })

  test('POST /admin/clients/<id>/kick on one node closes the client connected to another, without its will', async () => {
    const clientId = unique('kicked')
    const willTopic = unique('will')
    const watcher = await connect(topo.urls[2] as string)
    const seen = collect(watcher)
    await watcher.subscribeAsync(willTopic, { qos: 1 })
    const victim = await connect(topo.urls[2] as string, { clientId, will: { topic: willTopic, payload: Buffer.from('will'), qos: 1, retain: false } })
    const closed = new Promise<void>(resolve => victim.once('close', () => resolve()))
    const { status, body } = await api(topo, 0, `/admin/clients/${encodeURIComponent(clientId)}/kick`, { method: 'POST' })
    assert.equal(status, 200)
    assert.equal(body.node, topo.nodes[2]?.cluster?.memberId)
    await closed
    // A message published on the victim's node after the kick arrives first: no will came before it.
    const marker = await connect(topo.urls[2] as string)
    await marker.publishAsync(willTopic, 'marker', { qos: 1 })
    await seen.waitFor(1)
    assert.equal(seen.messages[0]?.payload, 'marker')
    assert.equal((await api(topo, 0, `/admin/clients/${encodeURIComponent(unique('nobody'))}/kick`, { method: 'POST' })).status, 404)
  })

  test('`slotmq admin session` shows a session held on another node; a wrong token exits 1', async () => {
    const clientId = unique('shown')
    const c = await connect(topo.urls[1] as string, { clientId, clean: false })
    await c.subscribeAsync('shown/+', { qos: 1 })
    const out: string[] = []
    const err: string[] = []
    const io = { env: { SLOTMQ_ADMIN_TOKEN: TOKEN }, out: (t: string) => out.push(t), err: (t: string) => err.push(t) }
    assert.equal(await adminCommand(['session', clientId, '--url', httpUrl(topo, 0)], io), 0)
    const shown = JSON.parse(out.join(''))
    assert.equal(shown.owner, topo.nodes[1]?.cluster?.memberId)
    assert.deepEqual(shown.subscriptions, [{ topic: 'shown/+', qos: 1 }])
    assert.equal(await adminCommand(['nodes', '--url', httpUrl(topo, 0), '--token', 'not-the-token-at-all'], io), 1)
    assert.match(err.join(''), /401/)
  })
})

describe('a standalone node without an admin token', () => {
  let topo: Topology
  before(async () => { topo = await startNodes(1, { 'sys-interval': '1' }) })
  after(async () => {
    await closeAll()
    await topo.close()
  })

  test('$SYS/broker/… and $SYS/brokers/<node>/… describe the node', async () => {
    const watcher = await connect(topo.urls[0] as string)
    const sys = collect(watcher)
    await watcher.subscribeAsync('$SYS/#', { qos: 0 })
    const pub = await connect(topo.urls[0] as string)
    await pub.publishAsync('counted', 'x', { qos: 1 })
    await until('totals with both clients and the publish', () => {
      const v = sysValues(sys.messages)
      return v.get('$SYS/broker/clients/connected') === '2' && Number(v.get('$SYS/broker/messages/received')) >= 1
    }, 10_000)
    const v = sysValues(sys.messages)
    assert.equal(v.get('$SYS/broker/nodes/count'), '1')
    assert.equal(v.get(`$SYS/brokers/${topo.nodes[0]?.nodeId ?? ''}/clients/connected`), '2')
    assert.ok(Number(v.get('$SYS/broker/bytes/received')) > 0)
  })

  test('read-only admin requests are open, kick and drain are refused (403)', async () => {
    assert.equal((await api(topo, 0, '/admin/nodes', { token: null })).status, 200)
    assert.equal((await api(topo, 0, '/admin/clients', { token: null })).status, 200)
    assert.equal((await api(topo, 0, '/admin/drain', { method: 'POST', token: null })).status, 403)
    assert.equal((await api(topo, 0, '/admin/clients/x/kick', { method: 'POST', token: null })).status, 403)
    assert.equal((await api(topo, 0, '/ready', { token: null })).status, 200, 'still ready')
  })
})
