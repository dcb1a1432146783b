import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

test('registering takes a lease with a deadline from Redis TIME and lists the live members', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const [seconds] = await r.time() as [number | string, number | string]
  const a = await scripts.nodeHeartbeat('a', 5000, true)
  const b = await scripts.nodeHeartbeat('b', 5000, true)
  assert.equal(a.held, true)
  assert.ok(Math.abs(a.deadlineMs - (Number(seconds) * 1000 + 5000)) < 2000, 'deadline is Redis time + ttl')
  assert.deepEqual(b.live.sort(), ['a', 'b'])
})

test('renewing a reaped lease does not bring it back: the member learns it is gone', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.nodeHeartbeat('a', 5000, true)
  await r.zrem(keys.nodes(), 'a')
  const renewed = await scripts.nodeHeartbeat('a', 5000, false)
  assert.equal(renewed.held, false)
  assert.equal(await r.zscore(keys.nodes(), 'a'), null)
})

test('an expired lease is not listed as live', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.nodeHeartbeat('short', 1, true)
  await new Promise(resolve => setTimeout(resolve, 20))
  const beat = await scripts.nodeHeartbeat('long', 5000, true)
  assert.deepEqual(beat.live, ['long'])
})
