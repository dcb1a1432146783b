import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Scripts } from '../../../src/redis/scripts.js'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'
import { until } from '../../helpers/until.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

const GAP_MS = 60_000
const sweep = async (scripts: Scripts, memberId: string, o: { limit?: number, minOwnLeaseMs?: number, gapMs?: number, ttlMs?: number } = {}): Promise<string[]> =>
  await scripts.nodeSweep({ limit: o.limit ?? 16, memberId, minOwnLeaseMs: o.minOwnLeaseMs ?? 1000, gapMs: o.gapMs ?? GAP_MS, ttlMs: o.ttlMs ?? 1, tombstoneMs: 60_000 })

test('concurrent sweeps reap each expired member exactly once and leave live ones', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  for (let round = 0; round < 20; round++) {
    const dead = ['d1', 'd2', 'd3'].map(d => `${d}-${round}`)
    for (const d of dead) await scripts.nodeHeartbeat(d, 1, true, GAP_MS)
    await scripts.nodeHeartbeat(`live-${round}`, 60_000, true, GAP_MS)
    await new Promise(resolve => setTimeout(resolve, 5))
    const results = await Promise.all([1, 2, 3, 4].map(async () => await sweep(scripts, `live-${round}`)))
    const reaped = results.flat()
    assert.deepEqual(reaped.filter(m => m.endsWith(`-${round}`)).sort(), dead.sort(), `round ${round}`)
    assert.ok(!reaped.includes(`live-${round}`), `round ${round}: the sweeping member reaped itself: ${reaped.join(',')}`)
  }
})

test('a sweep removes at most its limit', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  for (let i = 0; i < 5; i++) await scripts.nodeHeartbeat(`x${i}`, 1, true, GAP_MS)
  await scripts.nodeHeartbeat('reaper', 60_000, true, GAP_MS)
  await new Promise(resolve => setTimeout(resolve, 5))
  assert.equal((await sweep(scripts, 'reaper', { limit: 2 })).length, 2)
  assert.equal((await sweep(scripts, 'reaper')).length, 3)
})

test('a caller whose own lease is stale or missing reaps nobody (a sweep delayed by a failover)', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const id = `${process.pid}-${Date.now()}`
  await scripts.nodeHeartbeat(`expired-${id}`, 1, true, GAP_MS)
  await scripts.nodeHeartbeat(`stale-${id}`, 2000, true, GAP_MS)
  await new Promise(resolve => setTimeout(resolve, 5))
  assert.deepEqual(await sweep(scripts, `stale-${id}`, { minOwnLeaseMs: 5000 }), [], 'its lease runs less than asked')
  assert.deepEqual(await sweep(scripts, `unknown-${id}`, { minOwnLeaseMs: 0 }), [], 'it holds no lease')
  assert.ok((await sweep(scripts, `stale-${id}`)).includes(`expired-${id}`), 'a fresh caller reaps it')
})

test('after a gap in which nobody beat (the leases\' shard failing over), no sweep reaps anyone for one lease time, whichever member sweeps first', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const ttlMs = 600
  const gapMs = 200
  const beat = async (m: string): Promise<void> => { await scripts.nodeHeartbeat(m, ttlMs, false, gapMs) }
  await scripts.nodeHeartbeat('a', ttlMs, true, gapMs)
  await scripts.nodeHeartbeat('b', ttlMs, true, gapMs)
  // The shard "was down": nobody beat for longer than the lease.
  await new Promise(resolve => setTimeout(resolve, ttlMs + 50))
  // b renews first and sweeps at once: a's lease has run out, but it was the outage.
  await beat('b')
  assert.deepEqual(await sweep(scripts, 'b', { minOwnLeaseMs: 0, gapMs, ttlMs }), [], 'b reaped a right after the gap')
  // The same holds for a sweep that arrives before any beat after the gap (a's own lease
  // is long enough to let it reap; b's has run out).
  await scripts.nodeHeartbeat('a', 60_000, false, gapMs)
  await new Promise(resolve => setTimeout(resolve, ttlMs + 50))
  assert.deepEqual(await sweep(scripts, 'a', { minOwnLeaseMs: 0, gapMs, ttlMs }), [], 'a sweep as first call after the gap reaped someone')
  // A member that stays silent after the quiet period is reaped (b keeps beating).
  await scripts.nodeHeartbeat('a', ttlMs, false, gapMs)
  await beat('b')
  let reaped: string[] = []
  await until('b reaps a, silent since the gap', async () => {
    await beat('b')
    reaped = await sweep(scripts, 'b', { minOwnLeaseMs: 0, gapMs, ttlMs })
    return reaped.length > 0
  }, 5000, { intervalMs: 50 })
  assert.deepEqual(reaped, ['a'])
})
