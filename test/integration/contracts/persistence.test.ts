/**
 * Contract: the Redis-mode persistence passes aedes-persistence's abstract suite on the
 * real Redis Cluster (retained messages on Redis; sessions in memory until they move to
 * Redis), each instance under its own key prefix.
 */
import { after, before, test } from 'node:test'
import abstractPersistence from 'aedes-persistence/abstract.js'
import { loadConfig } from '../../../src/config.js'
import { createLogger } from '../../../src/logger.js'
import { createRedis, type RedisConnections } from '../../../src/redis/client.js'
import { createKeySpace } from '../../../src/redis/keys.js'
import { RedisPersistence } from '../../../src/redis/persistence.js'
import { RetainedStore } from '../../../src/redis/retained.js'
import { Scripts } from '../../../src/redis/scripts.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

let redis: TestRedis
let conn: RedisConnections

before(async () => {
  redis = await useRedisCluster()
  const log = createLogger({ level: 'silent', nodeId: 'contract' })
  conn = await createRedis(loadConfig({ flags: { redis: redis.seeds.join(',') } }), { log, memberName: 'contract' })
})
after(async () => {
  await conn.close()
  await redis.stop()
})

abstractPersistence({
  test,
  testAsync: true,
  persistence: async () => {
    const keys = createKeySpace(uniquePrefix())
    const held = { hold: () => {}, release: () => {} }
    return new RedisPersistence(new RetainedStore(conn.cmd, keys, new Scripts(conn.cmd, keys)), held)
  }
})
