/** routes-apply.lua and routes-read.lua. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

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
  await scripts.routesApply('m', 1, 50, ['+x'])
  const ttl = await r.pttl(keys.routes('m').filters)
  assert.ok(ttl > 0 && ttl <= 50, `pttl ${ttl}`)
})

test('scripts recover after SCRIPT FLUSH on every primary (NOSCRIPT is reloaded)', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  await scripts.routesApply('m', 1, 10_000, ['+before'])
  await Promise.all(r.nodes('master').map(async m => await m.script('FLUSH')))
  assert.deepEqual(await scripts.routesApply('m', 2, 10_000, ['+after']), { applied: true, seq: 2 })
  assert.deepEqual((await scripts.routesRead('m')).filters.sort(), ['after', 'before'])
})
