/**
 * A rolling restart under load: each of three nodes in turn is drained through the admin
 * API (no new connections, clients disconnected in batches, sessions handed over, the
 * node stops) and replaced by a fresh node on the same port, while QoS 1 publishers and
 * persistent subscribers, each knowing the three addresses, reconnect to whichever node
 * answers. No acknowledged QoS 1 publish may be lost by any subscriber.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Broker } from '../../src/broker.js'
import { closeAll, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'

const TOKEN = 'rolling-restart-token-0123'
const SUBSCRIBERS = 6
const PUBLISHERS = 2

let redis: TestRedis
const prefix = uniquePrefix()
const topologies: Topology[] = []

function flags (port = '0'): Record<string, string> {
  return { redis: redis.seeds.join(','), 'redis-prefix': prefix, 'admin-token': TOKEN, 'mqtt-port': port, 'ws-port': 'off', 'drain-batch-size': '2', 'drain-batch-interval-ms': '50' }
}

async function startOne (port = '0'): Promise<Broker> {
  const topo = await startNodes(1, flags(port))
  topologies.push(topo)
  return topo.nodes[0] as Broker
}

before(async () => { redis = await useRedisCluster() })
after(async () => {
  await closeAll()
  await Promise.all(topologies.map(async t => await t.close()))
  await redis.stop()
})

test('a rolling restart of three nodes, each drained through the admin API, loses no acknowledged QoS 1 publish of persistent sessions', async (t) => {
  const nodes = [await startOne(), await startOne(), await startOne()]
  const ports = nodes.map(n => n.mqtt.port)
  const servers = (first: number): Array<{ host: string, port: number }> =>
    [0, 1, 2].map(k => ({ host: '127.0.0.1', port: ports[(first + k) % 3] as number }))
  const topic = unique('rolling')

  const received = new Map<string, Map<string, number>>()
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const clientId = unique(`roll-sub-${i}`)
    const seen = new Map<string, number>()
    received.set(clientId, seen)
    const sub = await connect(`mqtt://127.0.0.1:${ports[i % 3] as number}`, { clientId, clean: false, reconnectPeriod: 100, servers: servers(i % 3) })
    sub.on('message', (_t, payload) => { const k = payload.toString(); seen.set(k, (seen.get(k) ?? 0) + 1) })
    await sub.subscribeAsync(topic, { qos: 1 })
  }

  const acked = new Set<string>()
  const timers: NodeJS.Timeout[] = []
  for (let p = 0; p < PUBLISHERS; p++) {
    const pub = await connect(`mqtt://127.0.0.1:${ports[(p + 1) % 3] as number}`, { clientId: unique(`roll-pub-${p}`), reconnectPeriod: 100, servers: servers((p + 1) % 3) })
    let seq = 0
    timers.push(setInterval(() => {
      const payload = `${p}:${++seq}`
      pub.publish(topic, payload, { qos: 1 }, (err) => { if (err === undefined || err === null) acked.add(payload) })
    }, 10))
  }

  try {
    await until('the stream flows', () => acked.size > 50, 10_000)
    for (let i = 0; i < 3; i++) {
      const node = nodes[i] as Broker
      const started = Date.now()
      const res = await fetch(`http://127.0.0.1:${node.http?.port ?? 0}/admin/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
      assert.equal(res.status, 200)
      await node.closed
      const drainedMs = Date.now() - started
      nodes[i] = await startOne(String(ports[i]))
      await until('the replacement is a peer of every node', () => nodes.every(n => n.cluster?.peers.size === 2), 15_000)
      t.diagnostic(`node ${i}: drained and stopped in ${drainedMs} ms, replaced after ${Date.now() - started} ms; ${acked.size} acknowledged so far`)
    }
    const mark = acked.size
    await until('publishing goes on after the restart', () => acked.size > mark + 50, 10_000)
  } finally {
    for (const timer of timers) clearInterval(timer)
  }

  const everyoneHasAll = (): boolean => [...received.values()].every(seen => [...acked].every(k => seen.has(k)))
  await until('every subscriber has every acknowledged publish', everyoneHasAll, 30_000).catch(() => {})
  let duplicates = 0
  const missing: string[] = []
  for (const [clientId, seen] of received) {
    for (const k of acked) if (!seen.has(k)) missing.push(`${clientId}:${k}`)
    for (const count of seen.values()) if (count > 1) duplicates += count - 1
  }
  if (process.env.ROLL_DEBUG !== undefined) for (const [clientId, seen] of received) t.diagnostic(`${clientId}: missing ${[...acked].filter(k => !seen.has(k)).join(' ')}`)
  t.diagnostic(`${acked.size} acknowledged publishes x ${SUBSCRIBERS} persistent subscribers: ${missing.length} missing, ${duplicates} duplicates`)
  assert.deepEqual(missing.slice(0, 20), [])
})
