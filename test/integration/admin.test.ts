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
import { nextEvent, until } from '../helpers/until.js'
import { VERSION } from '../../src/version.js'
import type { Broker } from '../../src/broker.js'

const TOKEN = 'test-admin-token-0123456789'
/** The default cluster.leaseTtlMs. */
const LEASE_TTL_MS = 5000

function httpUrl (topo: Topology, i: number): string {
  return `http://127.0.0.1:${topo.nodes[i]?.http?.port ?? 0}`
}

async function api (topo: Topology, i: number, path: string, opts: { method?: string, token?: string | null } = {}): Promise<{ status: number, body: any }> {
  const token = opts.token === undefined ? TOKEN : opts.token
  // Bounded: a node that never answers fails the test with the request, not a hang.
  const signal = AbortSignal.timeout(10_000)
  try {
    const res = await fetch(httpUrl(topo, i) + path, { method: opts.method ?? 'GET', headers: token === null ? {} : { authorization: `Bearer ${token}` }, signal })
    return { status: res.status, body: await res.json() }
  } catch (err) {
    throw new Error(`${opts.method ?? 'GET'} ${path} on node ${i}: ${signal.aborted ? 'no answer within 10 s' : String(err)}`, { cause: err })
  }
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
    const versionTopics = [`$SYS/brokers/${topo.nodes[0]?.nodeId ?? ''}/version`, '$SYS/broker/version', '$SYS/broker/uptime']
    await until('the version and uptime topics', () => versionTopics.every(t => sysValues(sys.messages).has(t)), 15_000, { observed: () => [...sysValues(sys.messages).keys()] })
    const v = sysValues(sys.messages)
    assert.equal(v.get(`$SYS/brokers/${topo.nodes[0]?.nodeId ?? ''}/version`), VERSION, 'the node\'s version')
    assert.equal(v.get('$SYS/broker/version'), VERSION, 'the broker\'s version')
    assert.match(v.get('$SYS/broker/uptime') ?? '', /^\d+$/, 'uptime in whole seconds')
  })

  test('$SYS/broker/… totals are published by one node only, the live member with the lowest id', async () => {
    // A watcher on that node sees its own $SYS messages in the order it publishes them:
    // each round its per-node topics, then the totals. Exactly one totals message between
    // two of its rounds means no other node publishes totals (they would come in between too).
    const leader = [...topo.nodes].sort((a, b) => (a.cluster?.memberId ?? '') < (b.cluster?.memberId ?? '') ? -1 : 1)[0]
    const watcher = await connect(topo.urls[topo.nodes.indexOf(leader as Broker)] as string)
    const sys = collect(watcher)
    await watcher.subscribeAsync(['$SYS/broker/nodes/count', `$SYS/brokers/${leader?.nodeId ?? ''}/uptime`], { qos: 0 })
    const rounds = (): string[][] => {
      const out: string[][] = []
      for (const m of sys.messages) {
        if (m.topic.startsWith('$SYS/brokers/')) out.push([])
        else out[out.length - 1]?.push(m.payload)
      }
      return out
    }
    // Three complete rounds (a round is complete once the next one begins).
    await until('four rounds of the leader', () => rounds().length >= 4, 20_000, { observed: () => sys.messages.map(m => m.topic) })
    assert.deepEqual(rounds().slice(0, 3).map(r => r.length), [1, 1, 1], `one totals message per round: ${JSON.stringify(rounds())}`)
    assert.deepEqual(rounds().slice(0, 3).map(r => r[0]), ['3', '3', '3'], 'the totals count every node')
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
      // A live lease: renewed some time ago, running out later; together the lease time.
      assert.ok(n.leaseAgeMs >= 0, `lease age ${String(n.leaseAgeMs)}`)
      assert.ok(n.leaseExpiresInMs > 0, `lease expires in ${String(n.leaseExpiresInMs)}`)
      assert.equal(n.leaseAgeMs + n.leaseExpiresInMs, LEASE_TTL_MS, `lease age ${String(n.leaseAgeMs)} + expires in ${String(n.leaseExpiresInMs)}`)
      assert.equal(n.self, n.memberId === topo.nodes[2]?.cluster?.memberId)
    }
  })

  test('GET /admin/clients on any node lists the clients of every node, each with its node and address', async () => {
    const ids = [unique('listed-a'), unique('listed-b'), unique('listed-c')]
    const clients = await Promise.all(ids.map(async (clientId, i) => await connect(topo.urls[i] as string, { clientId, clean: i !== 1 })))
    const ports = clients.map(c => (c.stream as unknown as { localPort: number }).localPort)
    for (const asked of [0, 2]) {
      const { status, body } = await api(topo, asked, '/admin/clients')
      assert.equal(status, 200)
      assert.deepEqual(body.nodes.map((n: any) => n.memberId).sort(), topo.nodes.map(n => n.cluster?.memberId).sort(), 'every live node answered')
      assert.ok(body.nodes.every((n: any) => n.answered === true && n.connected >= 1), JSON.stringify(body.nodes))
      ids.forEach((clientId, i) => {
        const listed = body.clients.find((c: any) => c.clientId === clientId)
        assert.ok(listed !== undefined, `${clientId} listed when node ${asked} is asked: ${JSON.stringify(body.clients.map((c: any) => c.clientId))}`)
        assert.equal(listed.memberId, topo.nodes[i]?.cluster?.memberId, `${clientId} is on node ${i}`)
        assert.equal(listed.nodeId, topo.nodes[i]?.nodeId)
        assert.equal(listed.clean, i !== 1)
        assert.equal(listed.remote, `127.0.0.1:${ports[i] ?? 0}`)
      })
    }
    const { body: none } = await api(topo, 1, '/admin/clients?limit=0')
    assert.deepEqual(none.clients, [], 'limit=0 lists nobody')
    assert.ok(none.nodes.every((n: any) => n.listed === 0 && n.connected >= 1), `and still counts them: ${JSON.stringify(none.nodes)}`)
  })

  test('`slotmq admin clients` prints a table of every node\'s clients; --json prints the API\'s answer', async () => {
    const clientId = unique('tabled')
    await connect(topo.urls[2] as string, { clientId })
    const out: string[] = []
    const io = { env: { SLOTMQ_ADMIN_TOKEN: TOKEN }, out: (t: string) => out.push(t), err: (t: string) => out.push(t) }
    assert.equal(await adminCommand(['clients', '--url', httpUrl(topo, 0)], io), 0)
    const lines = out.join('').split('\n')
    assert.match(lines[0] ?? '', /^CLIENT ID +NODE +ADDRESS +CLEAN +MQTT +SUBSCRIPTIONS +CONNECTED SINCE$/)
    const row = lines.find(l => l.startsWith(clientId)) ?? ''
    assert.match(row, new RegExp(`^${clientId} +${topo.nodes[2]?.nodeId ?? ''} +127\\.0\\.0\\.1:\\d+ +yes +3\\.1\\.1 +0 +\\d{4}-`), `the row of ${clientId}: ${row}`)
    assert.match(out.join(''), /\d+ clients? connected to 3 nodes\n/)
    out.length = 0
    assert.equal(await adminCommand(['clients', '--json', '--limit', '5', '--url', httpUrl(topo, 0)], io), 0)
    const json = JSON.parse(out.join(''))
    assert.equal(json.nodes.length, 3)
    assert.ok(json.clients.some((c: any) => c.clientId === clientId))
    out.length = 0
    assert.equal(await adminCommand(['nodes', '--url', httpUrl(topo, 1)], io), 0)
    const nodeLines = out.join('').split('\n')
    assert.match(nodeLines[0] ?? '', /^MEMBER ID +NODE ID +LEASE AGE +CLIENTS +SUBSCRIPTIONS +MSGS IN +MSGS OUT +UPTIME +VERSION +STATE$/)
    assert.ok(nodeLines.some(l => l.startsWith(topo.nodes[1]?.cluster?.memberId ?? '?') && l.endsWith('this node')), out.join(''))
    assert.match(out.join(''), /\n3 nodes\n$/)
  })

  test('POST /admin/clients/<id>/kick on one node closes the client connected to another, without its will', async () => {
    const clientId = unique('kicked')
    const willTopic = unique('will')
    const watcher = await connect(topo.urls[2] as string)
    const seen = collect(watcher)
    await watcher.subscribeAsync(willTopic, { qos: 1 })
    const victim = await connect(topo.urls[2] as string, { clientId, will: { topic: willTopic, payload: Buffer.from('will'), qos: 1, retain: false } })
    const closed = nextEvent(victim, 'close', 'the kicked connection to close')
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

  test('`slotmq admin session` shows a session held on another node, one field per line or as JSON; a wrong token exits 1', async () => {
    const clientId = unique('shown')
    const c = await connect(topo.urls[1] as string, { clientId, clean: false })
    await c.subscribeAsync('shown/+', { qos: 1 })
    const out: string[] = []
    const err: string[] = []
    const io = { env: { SLOTMQ_ADMIN_TOKEN: TOKEN }, out: (t: string) => out.push(t), err: (t: string) => err.push(t) }
    assert.equal(await adminCommand(['session', clientId, '--json', '--url', httpUrl(topo, 0)], io), 0)
    const shown = JSON.parse(out.join(''))
    assert.equal(shown.owner, topo.nodes[1]?.cluster?.memberId)
    assert.deepEqual(shown.subscriptions, [{ topic: 'shown/+', qos: 1 }])
    out.length = 0
    assert.equal(await adminCommand(['session', clientId, '--url', httpUrl(topo, 0)], io), 0)
    assert.match(out.join(''), new RegExp(`^owner +${shown.owner as string}$`, 'm'), out.join(''))
    assert.match(out.join(''), /^subscriptions +shown\/\+ \(QoS 1\)$/m, out.join(''))
    assert.equal(await adminCommand(['nodes', '--url', httpUrl(topo, 0), '--token', 'not-the-token-at-all'], io), 1)
    assert.match(err.join(''), /401/)
  })
})

describe('a standalone node without an admin token', () => {
  let topo: Topology
  before(async () => { topo = await startNodes(1, { 'sys-interval': '1', 'admin-token': '' }) })
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
    assert.ok(Number(v.get('$SYS/broker/bytes/received')) > 0, `bytes received: ${String(v.get('$SYS/broker/bytes/received'))}`)
  })

  test('every admin request is refused (401), read-only ones included; /ready and /metrics still answer', async () => {
    assert.equal((await api(topo, 0, '/admin/nodes', { token: null })).status, 401)
    assert.equal((await api(topo, 0, '/admin/clients', { token: null })).status, 401)
    assert.equal((await api(topo, 0, '/sessions/anyone', { token: null })).status, 401)
    assert.equal((await api(topo, 0, '/admin/clients', { token: 'any-token-at-all-0123' })).status, 401)
    assert.equal((await api(topo, 0, '/admin/drain', { method: 'POST', token: null })).status, 401)
    assert.equal((await api(topo, 0, '/admin/clients/x/kick', { method: 'POST', token: null })).status, 401)
    assert.equal((await fetch(httpUrl(topo, 0) + '/metrics')).status, 200, '/metrics needs no token')
    assert.equal((await api(topo, 0, '/ready', { token: null })).status, 200, 'still ready')
  })
})
