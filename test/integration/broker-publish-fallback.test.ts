/**
 * Services without SPUBLISH (Upstash, Redis 6 endpoints) get classic PUBLISH/SUBSCRIBE:
 * simulated with a Redis 7 server whose SPUBLISH is renamed away.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { brokerSuite } from '../helpers/broker-suite.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix } from '../helpers/redis.js'
import { startRedisServer, type RedisCluster } from '../support/redis-cluster.js'

let redis: RedisCluster
let probeTopo: Topology
const seeds = (): string => redis.nodes.map(n => `${n.host}:${n.port}`).join(',')
before(async () => {
  redis = await startRedisServer(['--rename-command', 'SPUBLISH', ''])
  probeTopo = await startNodes(1, { redis: seeds(), 'redis-prefix': uniquePrefix() })
})
after(async () => {
  await probeTopo.close()
  await redis.stop()
})

test('the start-up probe finds no SPUBLISH and /ready reports the classic PUBLISH fallback', async () => {
  const res = await fetch(`http://127.0.0.1:${probeTopo.nodes[0]?.http?.port ?? 0}/ready`)
  const body = await res.json() as { status: string, mode: string, redis: { mode: string, sharded: boolean } }
  assert.equal(res.status, 200)
  assert.equal(body.mode, 'redis')
  assert.deepEqual({ mode: body.redis.mode, sharded: body.redis.sharded }, { mode: 'single', sharded: false })
})

brokerSuite('two nodes on a Redis server without SPUBLISH (classic PUBLISH fallback)', async () =>
  await startNodes(2, { redis: seeds(), 'redis-prefix': uniquePrefix() }))
