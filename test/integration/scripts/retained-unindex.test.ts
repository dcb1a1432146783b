import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

test('a topic is unindexed only if no write touched it since its score was read', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const partition = keys.retainedPartition('a')
  await r.zincrby(partition, 1, 'a/b')
  const seen = await r.zscore(partition, 'a/b') as string
  await r.zincrby(partition, 1, 'a/b') // a concurrent writer
  assert.equal(await scripts.retainedUnindex(partition, 'a/b', seen), false)
  assert.notEqual(await r.zscore(partition, 'a/b'), null)
  const now = await r.zscore(partition, 'a/b') as string
  assert.equal(await scripts.retainedUnindex(partition, 'a/b', now), true)
  assert.equal(await r.zscore(partition, 'a/b'), null)
  assert.equal(await scripts.retainedUnindex(partition, 'a/b', now), false, 'already gone')
})
