import { after, before } from 'node:test'
import { brokerSuite } from '../helpers/broker-suite.js'
import { startNodes } from '../helpers/nodes.js'
import { uniquePrefix } from '../helpers/redis.js'
import { startRedisServer, type RedisCluster } from '../support/redis-cluster.js'

let redis: RedisCluster
before(async () => { redis = await startRedisServer() })
after(async () => { await redis.stop() })

brokerSuite('two nodes on one Redis server (SPUBLISH on a non-cluster Redis 7)', async () =>
  await startNodes(2, { redis: redis.nodes.map(n => `${n.host}:${n.port}`).join(','), 'redis-prefix': uniquePrefix() }))
