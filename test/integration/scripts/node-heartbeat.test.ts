import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

const GAP_MS = 60_000

test('registering takes a lease with a deadline from Redis TIME and lists the live members', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const [seconds] = await r.time() as [number | string, number | string]
  const a = await scripts.nodeHeartbeat('a', 5000, true, GAP_MS)
  const b = await scripts.nodeHeartbeat('b', 5000, true, GAP_MS)
  assert.equal(a.held, true)
  assert.ok(Math.abs(a.deadlineMs - (Number(seconds) * 1000 + 5000)) < 2000, `deadline ${a.deadlineMs} is not Redis time ${String(seconds)} s + ttl`)
  assert.deepEqual(b.live.sort(), ['a', 'b'])
})

test('renewing a reaped lease does not bring it back: the member learns it is gone', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.nodeHeartbeat('a', 1, true, GAP_MS)
  await scripts.nodeHeartbeat('reaper', 60_000, true, GAP_MS)
  await new Promise(resolve => setTimeout(resolve, 5))
  const reaped = await scripts.nodeSweep({ limit: 16, memberId: 'reaper', minOwnLeaseMs: 1000, gapMs: GAP_MS, ttlMs: 1, tombstoneMs: 60_000 })
  assert.deepEqual(reaped, ['a'])
  const renewed = await scripts.nodeHeartbeat('a', 5000, false, GAP_MS)
  assert.equal(renewed.held, false)
  assert.equal(await r.zscore(keys.nodes(), 'a'), null)
})

test('a lease missing without a tombstone (a write lost in a failover) is restored by its member\'s next beat', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.nodeHeartbeat('a', 5000, true, GAP_MS)
  await r.zrem(keys.nodes(), 'a')
  const renewed = await scripts.nodeHeartbeat('a', 5000, false, GAP_MS)
  assert.deepEqual({ held: renewed.held, restored: renewed.restored }, { held: true, restored: true })
  assert.notEqual(await r.zscore(keys.nodes(), 'a'), null)
})

test('an expired lease is not listed as live', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.nodeHeartbeat('short', 1, true, GAP_MS)
  await new Promise(resolve => setTimeout(resolve, 20))
  const beat = await scripts.nodeHeartbeat('long', 5000, true, GAP_MS)
  assert.deepEqual(beat.live, ['long'])
})
