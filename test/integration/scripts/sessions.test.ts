/** session-open, session-close, session-subs, session-put and outgoing-*.lua: ownership and fencing. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { until } from '../../helpers/until.js'
import { scriptsOn, useRedisCluster, type TestRedis } from '../../helpers/redis.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

const packet = (n: number): Buffer => Buffer.from(`packet-${n}`)

test('each open bumps the epoch and names the previous owner; clean session 0 finds the session present', async (t) => {
  const { redis: r, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('c{1}:x')
  const first = await s.open('node-a', false, true)
  assert.equal(first.previousOwner, '')
  assert.equal(first.present, false)
  const second = await s.open('node-b', false, true)
  assert.equal(second.previousOwner, 'node-a')
  assert.equal(second.previousEpoch, first.epoch)
  assert.equal(second.present, true)
  assert.ok(BigInt(second.epoch) > BigInt(first.epoch), `epoch ${String(second.epoch)} after ${String(first.epoch)}`)
  const clean = await s.open('node-c', true, false)
  assert.equal(clean.present, false)
  assert.ok(BigInt(clean.epoch) > BigInt(second.epoch), `epoch ${String(clean.epoch)} after ${String(second.epoch)}`)
})

test('a writer with a stale epoch changes nothing and is told so', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('fenced')
  const old = await s.open('node-a', false, true)
  const current = await s.open('node-b', false, true)
  assert.equal(await s.subs(old.epoch, 'add', ['a/#', '{"qos":1}']), false)
  assert.deepEqual(await s.enqueue(old.epoch, 10, 'b:1', packet(1)), { status: 'stale', owner: 'node-b' })
  assert.equal(await s.put(old.epoch, 'will', 'set', '', 'will'), 'stale')
  assert.equal(await s.put(old.epoch, 'incoming', 'hset', '7', 'p'), 'stale')
  assert.equal(await s.close(old.epoch, 60_000), 'stale')
  const k = keys.session('fenced')
  assert.equal(await r.exists(k.subs, k.queue, k.will, k.incoming), 0)
  assert.equal(await r.hget(k.meta, 'owner'), 'node-b')
  // The current epoch writes.
  assert.equal(await s.subs(current.epoch, 'add', ['a/#', '{"qos":1}']), true)
  assert.deepEqual(await s.enqueue(current.epoch, 10, 'b:1', packet(1)), { status: 'queued', dropped: 0 })
  assert.equal(await s.update(old.epoch, 'b:1', 5, packet(1), 60_000), 'stale')
  assert.equal(await s.clear(old.epoch, 5, 60_000), null)
  assert.equal(await s.update(current.epoch, 'b:1', 5, packet(1), 60_000), 'applied')
  assert.deepEqual(await s.clear(current.epoch, 5, 60_000), packet(1))
})

test('a replay batch records the identifiers of its queued messages in one fenced call; a stale writer records none', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('batch')
  const old = await s.open('node-a', false, true)
  for (let i = 1; i <= 3; i++) await s.enqueue(old.epoch, 10, `b:${i}`, packet(i))
  // b:9 was never queued (acknowledged or dropped meanwhile): skipped, not recorded.
  assert.equal(await s.sent(old.epoch, [['b:1', 7], ['b:2', 8], ['b:9', 9]]), 2)
  const k = keys.session('batch')
  assert.deepEqual(await r.hmget(k.out, 'rb:1', 'mb:1', 'm7', 'rb:2', 'm8', 'm9'), ['7', null, 'b:1', '8', 'b:2', null])
  // Sent again with a new identifier: the old one no longer names it.
  assert.equal(await s.sent(old.epoch, [['b:1', 10]]), 1)
  assert.deepEqual(await r.hmget(k.out, 'rb:1', 'm7', 'm10'), ['10', null, 'b:1'])
  assert.deepEqual(await s.clear(old.epoch, 10, 60_000), packet(1))
  const current = await s.open('node-b', false, true)
  assert.equal(await s.sent(old.epoch, [['b:3', 11]]), 'stale')
  assert.equal(await r.hexists(k.out, 'rb:3'), 0)
  assert.equal(await s.sent(current.epoch, [['b:3', 11]]), 1)
})

test('a batch of PUBACKs removes the acknowledged messages and remembers them; a stale writer clears only by the refs it sent', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('acked')
  const old = await s.open('node-a', false, true)
  for (let i = 1; i <= 4; i++) await s.enqueue(old.epoch, 10, `b:${i}`, packet(i))
  assert.equal(await s.sent(old.epoch, [['b:1', 1], ['b:2', 2], ['b:3', 3]]), 3)
  // Identifier 9 names no message: nothing to remove.
  assert.equal(await s.acked(old.epoch, 60_000, [[1, 'b:1'], [2, ''], [9, '']]), 2)
  const k = keys.session('acked')
  assert.deepEqual(await r.zrange(k.queue, '0', '-1'), ['b:3', 'b:4'])
  assert.deepEqual(await r.hmget(k.out, 'pb:1', 'rb:1', 'm1', 'pb:2', 'm2'), [null, null, null, null, null])
  // Remembered as acknowledged: queued again (a dead node's journal replayed), they are not.
  assert.deepEqual(await s.enqueue(old.epoch, 10, 'b:1', packet(1)), { status: 'duplicate' })
  // The session moved on: identifier 3 means nothing to the stale writer, the ref it sent does.
  const current = await s.open('node-b', false, true)
  assert.equal(await s.acked(old.epoch, 60_000, [[3, ''], [4, 'b:4']]), 1)
  assert.deepEqual(await r.zrange(k.queue, '0', '-1'), ['b:3'])
  assert.equal(await s.acked(current.epoch, 60_000, [[3, '']]), 1)
  assert.equal(await r.exists(k.queue), 0)
})

test('a message is queued once per ref, and a full queue drops its oldest entries', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('capped')
  const { epoch } = await s.open('node-a', false, true)
  for (let i = 1; i <= 3; i++) assert.deepEqual(await s.enqueue(epoch, 3, `b:${i}`, packet(i)), { status: 'queued', dropped: 0 })
  assert.deepEqual(await s.enqueue(epoch, 3, 'b:2', packet(2)), { status: 'duplicate' })
  assert.equal(await s.update(epoch, 'b:1', 11, packet(1), 60_000), 'applied')
  assert.deepEqual(await s.enqueue(epoch, 3, 'b:4', packet(4)), { status: 'queued', dropped: 1 })
  const k = keys.session('capped')
  assert.deepEqual(await r.zrange(k.queue, '0', '-1'), ['b:2', 'b:3', 'b:4'])
  // The dropped entry's packet and identifier are gone with it.
  assert.equal(await r.hexists(k.out, 'pb:1'), 0)
  assert.equal(await r.hexists(k.out, 'm11'), 0)
})

test('a closed persistent session is parked with its expiry and loses its will; a clean one is deleted', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const p = scripts.session('persistent')
  const { epoch } = await p.open('node-a', false, true)
  await p.subs(epoch, 'add', ['t', '{"qos":1}'])
  await p.put(epoch, 'will', 'set', '', 'will')
  assert.equal(await p.close(epoch, 60_000), 'parked')
  const k = keys.session('persistent')
  assert.equal(await r.hget(k.meta, 'parked'), '1')
  const ttl = await r.pttl(k.subs)
  assert.ok(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`)
  assert.equal(await r.exists(k.will), 0)
  // Resuming makes it permanent again.
  await p.open('node-b', false, true)
  assert.equal(await r.pttl(k.subs), -1)

  const c = scripts.session('clean')
  const opened = await c.open('node-a', true, false)
  await c.put(opened.epoch, 'will', 'set', '', 'will')
  assert.equal(await c.close(opened.epoch, 60_000), 'deleted')
  const kc = keys.session('clean')
  assert.equal(await r.exists(kc.meta, kc.will), 0)
})

test('an acknowledged message is remembered for a while: queueing it again (a dead node\'s journal replayed) does nothing', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('acknowledged')
  const { epoch } = await s.open('node-a', false, true)
  assert.deepEqual(await s.enqueue(epoch, 10, 'b:1', packet(1)), { status: 'queued', dropped: 0 })
  assert.equal(await s.update(epoch, 'b:1', 3, packet(1), 60_000), 'applied')
  assert.deepEqual(await s.clear(epoch, 3, 60_000), packet(1))
  assert.deepEqual(await s.enqueue(epoch, 10, 'b:1', packet(1)), { status: 'duplicate' }, 'an acknowledged message was queued again')
  assert.equal(await r.zcard(keys.session('acknowledged').queue), 0)
  const ttl = await r.pttl(keys.session('acknowledged').done)
  assert.ok(ttl > 0 && ttl <= 60_000, `the memory of acknowledged messages expires by itself (pttl ${ttl})`)
  // QoS 2: the message is remembered once PUBREC replaced it by a PUBREL.
  assert.deepEqual(await s.enqueue(epoch, 10, 'b:2', packet(2)), { status: 'queued', dropped: 0 })
  assert.equal(await s.update(epoch, 'b:2', 4, packet(2), 60_000), 'applied')
  assert.equal(await s.update(epoch, '~4', 4, packet(9), 60_000), 'applied')
  assert.deepEqual(await s.enqueue(epoch, 10, 'b:2', packet(2)), { status: 'duplicate' }, 'a message whose PUBREC arrived was queued again')
})

test('acknowledged messages are forgotten after the memory time', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('forgotten')
  const { epoch } = await s.open('node-a', false, true)
  await s.enqueue(epoch, 10, 'b:1', packet(1))
  await s.update(epoch, 'b:1', 3, packet(1), 50)
  await s.clear(epoch, 3, 50)
  await until('the acknowledged ref is forgotten', async () => await r.exists(keys.session('forgotten').done) === 0, 5000)
  assert.deepEqual(await s.enqueue(epoch, 10, 'b:1', packet(1)), { status: 'queued', dropped: 0 })
})

test('a connection that lost its session clears by ref what its client acknowledged, never by identifier', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const s = scripts.session('handed')
  const old = await s.open('node-a', false, true)
  await s.enqueue(old.epoch, 10, 'b:1', packet(1))
  await s.enqueue(old.epoch, 10, 'b:2', packet(2))
  assert.equal(await s.update(old.epoch, 'b:1', 5, packet(1), 60_000), 'applied')
  const current = await s.open('node-b', false, true)
  // The new owner sent b:2 with the same identifier meanwhile.
  assert.equal(await s.update(current.epoch, 'b:2', 5, packet(2), 60_000), 'applied')
  assert.equal(await s.clear(old.epoch, 5, 60_000), null, 'a stale identifier cleared something')
  assert.equal(await s.clear(old.epoch, 5, 60_000, '~5'), null, 'a stale PUBREL ref cleared something')
  assert.deepEqual(await s.clear(old.epoch, 5, 60_000, 'b:1'), packet(1))
  const k = keys.session('handed')
  assert.deepEqual(await r.zrange(k.queue, '0', '-1'), ['b:2'], 'the new owner\'s message stays queued')
  assert.equal(await r.hget(k.out, 'm5'), 'b:2', 'the new owner\'s identifier still names its message')
  assert.deepEqual(await s.enqueue(current.epoch, 10, 'b:1', packet(1)), { status: 'duplicate' }, 'the acknowledged message was queued again')
})
