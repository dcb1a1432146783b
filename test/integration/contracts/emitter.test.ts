/**
 * Contract: slotmq's cluster emitter passes mqemitter's own abstract test suite, each
 * emitter a member of its own cluster on the real Redis Cluster.
 */
import { after, before } from 'node:test'
import abstractTests from 'mqemitter/abstractTest.js'
import { loadConfig } from '../../../src/config.js'
import { createLogger } from '../../../src/logger.js'
import { createRedis, type RedisConnections } from '../../../src/redis/client.js'
import { createKeySpace } from '../../../src/redis/keys.js'
import { Scripts } from '../../../src/redis/scripts.js'
import { ClusterRouting } from '../../../src/routing/cluster.js'
import { suiteTest } from '../../helpers/abstract-suite.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

let redis: TestRedis
let conn: RedisConnections
const log = createLogger({ level: 'silent', nodeId: 'contract' })

before(async () => {
  redis = await useRedisCluster()
  conn = await createRedis(loadConfig({ flags: { redis: redis.seeds.join(',') } }), { log, memberName: 'contract' })
})
after(async () => {
  await conn.close()
  await redis.stop()
})

let n = 0
abstractTests({
  // The suite calls tap's t.fail, which node:test lacks: see suiteTest.
  test: suiteTest(),
  builder: (opts: Record<string, unknown> = {}) => {
    const keys = createKeySpace(uniquePrefix())
    const routing = new ClusterRouting({
      redis: conn,
      keys,
      scripts: new Scripts(conn.cmd, keys),
      nodeId: 'contract',
      memberId: `contract~${++n}`,
      leaseTtlMs: 3000,
      log,
      emitterOptions: opts
    })
    routing.start().catch((err: unknown) => { throw err })
    return routing.emitter
  }
})
