/** routes-apply.lua and routes-read.lua. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'
import { until } from '../../helpers/until.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

test('route changes apply in order under increasing delta numbers and read back with their number', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  assert.deepEqual(await scripts.routesRead('m'), { seq: 0, filters: [] })
  assert.deepEqual(await scripts.routesApply('m', 1, 10_000, ['+a/#', '+b/+/c', '+{odd}:id']), { applied: true, seq: 1 })
  assert.deepEqual(await scripts.routesApply('m', 2, 10_000, ['-a/#']), { applied: true, seq: 2 })
  const read = await scripts.routesRead('m')
  assert.equal(read.seq, 2)
  assert.deepEqual(read.filters.sort(), ['b/+/c', '{odd}:id'])
})

test('a stale delta number changes nothing and reports the stored one', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.routesApply('m', 5, 10_000, ['+x'])
  assert.deepEqual(await scripts.routesApply('m', 5, 10_000, ['-x', '+y']), { applied: false, seq: 5 })
  assert.deepEqual(await scripts.routesApply('m', 3, 10_000, ['+z']), { applied: false, seq: 5 })
  assert.deepEqual((await scripts.routesRead('m')).filters, ['x'])
})

test('route sets expire unless renewed, so a vanished node leaves nothing behind', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const { filters, meta } = keys.routes('gone')
  await scripts.routesApply('gone', 1, 1000, ['+x'])
  for (const key of [filters, meta]) {
    const ttl = await r.pttl(key)
    assert.ok(ttl > 0 && ttl <= 1000, `${key}: pttl ${ttl}, expected an expiry of at most 1000 ms`)
  }
  await until('both keys of the route set expired', async () => await r.exists(filters, meta) === 0, 10_000,
    { observed: async () => `exists ${await r.exists(filters, meta)}, pttl ${await r.pttl(filters)} / ${await r.pttl(meta)}` })
})

test('scripts recover after SCRIPT FLUSH on every primary (NOSCRIPT is reloaded)', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.routesApply('m', 1, 10_000, ['+before'])
  await Promise.all(r.nodes('master').map(async m => await m.script('FLUSH')))
  assert.deepEqual(await scripts.routesApply('m', 2, 10_000, ['+after']), { applied: true, seq: 2 })
  assert.deepEqual((await scripts.routesRead('m')).filters.sort(), ['after', 'before'])
})
