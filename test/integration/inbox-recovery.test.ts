/**
 * A node pings its own inbox every second and renews the subscription when a ping is
 * lost. Once pings come back, the renewals stop: a renewal never loses its own next ping.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ClusterRouting } from '../../src/routing/cluster.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { primariesOf, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'

describe('inbox pings (Redis Cluster)', { timeout: 60_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let primaries: Awaited<ReturnType<typeof primariesOf>>
  const routing = (i: number): ClusterRouting => topo.nodes[i]?.cluster as ClusterRouting

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

  test('after pings were held back (Redis holding every write), the inbox answers again and renews its subscription no more', async () => {
    const stats = (): ReturnType<ClusterRouting['stats']> => routing(1).stats()
    await until('the inbox answered a ping', () => stats().inboxPingsAnswered > 0, 10_000)
    await primaries.pause(3500)
    try {
      await until('a lost ping made the node renew its inbox subscription', () => stats().inboxResubscribes > 0 && !routing(1).health().inbox, 10_000)
    } finally {
      await primaries.unpause()
    }
    await until('the inbox is healthy again', () => routing(1).health().inbox, 15_000)
    const renewals = stats().inboxResubscribes
    const answered = stats().inboxPingsAnswered
    // Three more pings answered, one a second: a renewal loop would have renewed by then.
    await until('three more pings answered', () => stats().inboxPingsAnswered >= answered + 3, 15_000)
    assert.equal(stats().inboxResubscribes, renewals, `the node kept renewing its inbox subscription after pings came back (${JSON.stringify(stats())})`)
    assert.equal(routing(1).health().inbox, true)
    // And the inbox delivers.
    const topic = unique('after-pause')
    const sub = await connect(topo.urls[1] as string)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(topo.urls[0] as string)
    await pub.publishAsync(topic, 'through', { qos: 1 })
    assert.deepEqual((await got.waitFor(1)).map(m => m.payload), ['through'])
  })
})
