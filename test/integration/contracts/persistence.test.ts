/**
 * Contract: the Redis-mode persistence passes aedes-persistence's whole abstract suite
 * (retained messages, subscriptions, outgoing queues, inbound QoS 2, wills) on the real
 * Redis Cluster and on a single Redis server, each instance under its own key prefix.
 * The suite never opens a session, so its writes are the unfenced kind; fencing has its
 * own tests (test/integration/sessions.test.ts, test/integration/scripts/sessions.test.ts).
 */
import { after, before } from 'node:test'
import abstractPersistence from 'aedes-persistence/abstract.js'
import { loadConfig } from '../../../src/config.js'
import { createLogger } from '../../../src/logger.js'
import { createRedis, type RedisConnections } from '../../../src/redis/client.js'
import { createKeySpace } from '../../../src/redis/keys.js'
import { RedisPersistence } from '../../../src/sessions/persistence.js'
import { RetainedStore } from '../../../src/redis/retained.js'
import { Scripts } from '../../../src/redis/scripts.js'
import { suiteTest } from '../../helpers/abstract-suite.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../../helpers/redis.js'
import { startRedisServer, type RedisCluster } from '../../support/redis-cluster.js'

let cluster: TestRedis
let single: RedisCluster
const conns: Record<'cluster' | 'single', RedisConnections | undefined> = { cluster: undefined, single: undefined }

before(async () => {
  cluster = await useRedisCluster()
  single = await startRedisServer()
  const log = createLogger({ level: 'silent', nodeId: 'contract' })
  conns.cluster = await createRedis(loadConfig({ flags: { redis: cluster.seeds.join(',') } }), { log, memberName: 'contract' })
  conns.single = await createRedis(loadConfig({ flags: { redis: single.nodes.map(n => `${n.host}:${n.port}`).join(',') } }), { log, memberName: 'contract' })
})
after(async () => {
  await conns.cluster?.close()
  await conns.single?.close()
  await cluster.stop()
  await single.stop()
})

function persistenceOn (which: 'cluster' | 'single'): () => Promise<RedisPersistence> {
  return async () => {
    const conn = conns[which]
    if (conn === undefined) throw new Error('Redis not connected')
    const keys = createKeySpace(uniquePrefix())
    const scripts = new Scripts(conn.cmd, keys)
    return new RedisPersistence({
      redis: conn.cmd,
      keys,
      scripts,
      retained: new RetainedStore(conn.cmd, keys, scripts),
      links: { memberId: () => 'contract', hold: async () => {}, release: () => {}, kick: () => {}, forward: () => {}, adopt: () => {}, journal: async function * () {}, dropJournal: async () => {} },
      settings: { queueCap: 1000, expiryMs: 60_000, ackMemoryMs: 60_000 }
    })
  }
}

for (const which of ['cluster', 'single'] as const) {
  const label = which === 'cluster' ? 'Redis Cluster' : 'single Redis'
  abstractPersistence({
    test: suiteTest(`${label}: `),
    testAsync: true,
    persistence: persistenceOn(which)
  })
}
