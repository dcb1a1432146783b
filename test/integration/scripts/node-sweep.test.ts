import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

test('concurrent sweeps reap each expired member exactly once and leave live ones', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  for (let round = 0; round < 20; round++) {
    const dead = ['d1', 'd2', 'd3'].map(d => `${d}-${round}`)
    for (const d of dead) await scripts.nodeHeartbeat(d, 1, true)
    await scripts.nodeHeartbeat(`live-${round}`, 60_000, true)
    await new Promise(resolve => setTimeout(resolve, 5))
    const results = await Promise.all([1, 2, 3, 4].map(async () => await scripts.nodeSweep(16)))
    const reaped = results.flat()
    assert.deepEqual(reaped.filter(m => m.endsWith(`-${round}`)).sort(), dead.sort(), `round ${round}`)
    assert.ok(!reaped.includes(`live-${round}`))
  }
})

test('a sweep removes at most its limit', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  for (let i = 0; i < 5; i++) await scripts.nodeHeartbeat(`x${i}`, 1, true)
  await new Promise(resolve => setTimeout(resolve, 5))
  assert.equal((await scripts.nodeSweep(2)).length, 2)
  assert.equal((await scripts.nodeSweep(16)).length, 3)
})
