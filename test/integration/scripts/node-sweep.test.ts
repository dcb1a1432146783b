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
    const results = await Promise.all([1, 2, 3, 4].map(async () => await scripts.nodeSweep(16, `live-${round}`, 1000)))
    const reaped = results.flat()
    assert.deepEqual(reaped.filter(m => m.endsWith(`-${round}`)).sort(), dead.sort(), `round ${round}`)
    assert.ok(!reaped.includes(`live-${round}`))
  }
})

test('a sweep removes at most its limit', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  for (let i = 0; i < 5; i++) await scripts.nodeHeartbeat(`x${i}`, 1, true)
  await scripts.nodeHeartbeat('reaper', 60_000, true)
  await new Promise(resolve => setTimeout(resolve, 5))
  assert.equal((await scripts.nodeSweep(2, 'reaper', 1000)).length, 2)
  assert.equal((await scripts.nodeSweep(16, 'reaper', 1000)).length, 3)
})

test('a caller whose own lease is stale or missing reaps nobody (a sweep delayed by a failover)', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const id = `${process.pid}-${Date.now()}`
  await scripts.nodeHeartbeat(`expired-${id}`, 1, true)
  await scripts.nodeHeartbeat(`stale-${id}`, 2000, true)
  await new Promise(resolve => setTimeout(resolve, 5))
  assert.deepEqual(await scripts.nodeSweep(16, `stale-${id}`, 5000), [], 'its lease runs less than asked')
  assert.deepEqual(await scripts.nodeSweep(16, `unknown-${id}`, 0), [], 'it holds no lease')
  assert.ok((await scripts.nodeSweep(16, `stale-${id}`, 1000)).includes(`expired-${id}`), 'a fresh caller reaps it')
})
