import { after, before } from 'node:test'
import { brokerSuite } from '../helpers/broker-suite.js'
import { startNodes } from '../helpers/nodes.js'
import { protocolSuite } from '../helpers/protocol-suite.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

brokerSuite('three nodes on a Redis Cluster, publishers and subscribers on different nodes', async () =>
  await startNodes(3, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() }))

protocolSuite('protocol edge: two nodes on a Redis Cluster, publishers and subscribers on different nodes', async () =>
  await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() }))
