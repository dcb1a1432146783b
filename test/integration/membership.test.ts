/**
 * Membership with real processes and a real Redis Cluster: a node killed with SIGKILL
 * loses its routes everywhere within its lease time; a node whose lease was reaped
 * rejoins under a new identity and rebuilds its routes.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Cluster } from 'ioredis'
import { createKeySpace } from '../../src/redis/keys.js'
import type { ClusterRouting } from '../../src/routing/cluster.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { startNodeProcess } from '../helpers/process.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until, within } from '../helpers/until.js'

const LEASE_TTL_MS = 2000

function routing (topo: Topology, i: number): ClusterRouting {
  const r = topo.nodes[i]?.cluster
  if (r === undefined) throw new Error(`node ${i} is not clustered`)
  return r
}

function memberWith (r: ClusterRouting, filter: string): string | undefined {
  return [...r.table.members()].find(m => r.table.filtersOf(m).has(filter))
}

describe('cluster membership', { timeout: 60_000 }, () => {
  let redis: TestRedis
  let admin: Cluster
  before(async () => {
    redis = await useRedisCluster()
    admin = clusterClient(redis.seeds)
  })
  after(async () => {
    await closeAll()
    admin.disconnect()
    await redis.stop()
  })

  test('a node killed with SIGKILL loses its routes on every node within the lease time', async (t) => {
    const prefix = uniquePrefix()
    const flags = { redis: redis.seeds.join(','), 'redis-prefix': prefix, 'lease-ttl-ms': String(LEASE_TTL_MS) }
    const topo = await startNodes(2, flags)
    t.after(async () => await topo.close())
    const doomed = await startNodeProcess(['--redis', flags.redis, '--redis-prefix', prefix, '--lease-ttl-ms', flags['lease-ttl-ms'], '--log-level', 'info'])
    t.after(async () => { await doomed.kill() })

    const topic = unique('doomed')
    const sub = await connect(`mqtt://127.0.0.1:${doomed.ports.mqtt}`)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(topo.urls[0] as string)
    await pub.publishAsync(topic, 'before', { qos: 1 })
    await got.waitFor(1)
    const dead = memberWith(routing(topo, 0), topic)
    assert.ok(dead !== undefined, 'node 0 routes the topic to the doomed node')
    assert.equal(memberWith(routing(topo, 1), topic), dead)

    await doomed.kill('SIGKILL')
    const ms = await until('no survivor routes to the dead node', () =>
      [0, 1].every(i => !routing(topo, i).table.has(dead) && !routing(topo, i).peers.has(dead)), LEASE_TTL_MS * 2 + 2000)
    t.diagnostic(`routes of the killed node gone from both survivors ${ms} ms after SIGKILL (lease ${LEASE_TTL_MS} ms)`)
    const keys = createKeySpace(prefix).routes(dead)
    await until('the dead node\'s route set is deleted from Redis', async () => await admin.exists(keys.filters) === 0, 2000)
    assert.equal(await admin.zscore(createKeySpace(prefix).nodes(), dead), null, 'its lease is gone')

    const survivorTopic = unique('survivor')
    const sub2 = await connect(topo.urls[1] as string)
    const got2 = collect(sub2)
    await sub2.subscribeAsync(survivorTopic, { qos: 1 })
    await pub.publishAsync(survivorTopic, 'after', { qos: 1 })
    const [m] = await got2.waitFor(1)
    assert.equal(m?.payload, 'after')
  })

  test('a node whose lease was reaped rejoins under a new identity, closes its connections (their sessions were settled by the reaper) and serves them again', async (t) => {
    const prefix = uniquePrefix()
    const keys = createKeySpace(prefix)
    const topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': prefix, 'lease-ttl-ms': String(LEASE_TTL_MS) })
    t.after(async () => await topo.close())
    const topic = unique('rejoin')
    const sub = await connect(topo.urls[1] as string)
    await sub.subscribeAsync(topic, { qos: 1 })
    const closed = new Promise<void>(resolve => sub.once('close', () => resolve()))
    const old = routing(topo, 1).memberId

    // What a peer's sweep does to a node that stalled past its lease: the lease goes and
    // a tombstone says it was reaped (a lease missing without one is restored instead).
    await admin.multi().zrem(keys.nodes(), old).zadd(keys.nodesReaped(), Date.now(), old).exec()
    await until('node 1 rejoined under a new id', () => routing(topo, 1).memberId !== old, LEASE_TTL_MS * 3)
    await within('node 1 closed the connection it served under its old identity', closed, LEASE_TTL_MS * 2)
    const fresh = routing(topo, 1).memberId
    await until('node 0 forgot the old id', () => !routing(topo, 0).table.has(old), LEASE_TTL_MS * 3)

    const again = await connect(topo.urls[1] as string)
    const got = collect(again)
    await again.subscribeAsync(topic, { qos: 1 })
    await until('node 0 routes the topic to the new id', () => memberWith(routing(topo, 0), topic) === fresh, LEASE_TTL_MS * 3)
    const pub = await connect(topo.urls[0] as string)
    await pub.publishAsync(topic, 'after rejoin', { qos: 1 })
    const [m] = await got.waitFor(1)
    assert.equal(m?.payload, 'after rejoin')
  })
})
