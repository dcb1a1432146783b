import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame, FrameWriter } from '../../src/routing/frames.js'
import { RouteTable } from '../../src/routing/route-table.js'
import { hash32, parseShare, parseShareEntry, pick, shareEntry, type PickState } from '../../src/routing/shared.js'

test('[MQTT-4.8.2] $share/<group>/<filter> gives the group and the filter, which may hold / and wildcards', () => {
  assert.deepEqual(parseShare('$share/workers/a/+/#'), { group: 'workers', filter: 'a/+/#' })
  assert.deepEqual(parseShare('$share/g//x'), { group: 'g', filter: '/x' })
})

test('[MQTT-4.8.2-1] [MQTT-4.8.2-2] a $share filter without a group, with a wildcard in the group or without a filter is refused with a reason', () => {
  for (const topic of ['$share//a', '$share/g', '$share/g/', '$share/g+/a', '$share/#/a', '$share']) {
    const parsed = parseShare(topic)
    assert.ok('problem' in parsed, topic)
  }
})

test('a route entry names the group and filter of a node\'s n-th member, and no subscription can spell one', () => {
  const entry = shareEntry('g.1', 'a/+/b', 3)
  assert.equal(entry, '$share/g.1+3/a/+/b')
  assert.deepEqual(parseShareEntry(entry), { group: 'g.1', filter: 'a/+/b' })
  assert.equal(parseShareEntry('a/+/b'), undefined)
  assert.ok('problem' in parseShare(entry), 'a subscription spelled like an entry is refused')
})

test('round_robin picks each candidate as often as its weight, turn by turn', () => {
  const state: PickState = { next: 0, sticky: undefined }
  const counts = new Map<string, number>()
  for (let i = 0; i < 400; i++) {
    const id = pick([['a', 2], ['b', 1], ['c', 1]], 'round_robin', state, 0) ?? ''
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  assert.deepEqual(Object.fromEntries(counts), { a: 200, b: 100, c: 100 })
})

test('sticky keeps its pick while it is a candidate and moves when it leaves', () => {
  const state: PickState = { next: 0, sticky: undefined }
  const first = pick([['a', 1], ['b', 1]], 'sticky', state, 0)
  for (let i = 0; i < 50; i++) assert.equal(pick([['a', 1], ['b', 1]], 'sticky', state, 0), first)
  const other = first === 'a' ? 'b' : 'a'
  assert.equal(pick([[other, 1]], 'sticky', state, 0), other)
})

test('hash strategies give one hash the same pick, and no candidates gives none', () => {
  const state: PickState = { next: 0, sticky: undefined }
  const h = hash32('sensors/7')
  const once = pick([['a', 2], ['b', 3]], 'hash_topic', state, h)
  for (let i = 0; i < 20; i++) assert.equal(pick([['a', 2], ['b', 3]], 'hash_topic', state, h), once)
  assert.equal(pick([], 'random', state, 0), undefined)
})

test('a shared record carries group, filter, hash and hops with its publish', () => {
  const publish = { topic: 'a/b', payload: Buffer.from('x'), qos: 1 as const, retain: false, dup: false, brokerId: 'n~1', brokerCounter: 9 }
  const frame = new FrameWriter('n~1', 1).shared({ group: 'gé', filter: 'a/#', hash: 4294967295, hops: 2 }, publish).ack(3).finish()
  const { records } = decodeFrame(frame)
  assert.deepEqual(records, [
    { kind: 'shared', group: 'gé', filter: 'a/#', hash: 4294967295, hops: 2, publish: { kind: 'publish', ...publish } },
    { kind: 'ack', seq: 3 }
  ])
})

test('the route table counts each peer\'s members of a group and matches the inner filter, not $-topics for a wildcard-first filter', () => {
  const table = new RouteTable()
  table.replace('n1', 1, [shareEntry('g', '#', 1), shareEntry('g', '#', 2), 'plain/+'])
  table.replace('n2', 1, [shareEntry('g', '#', 1)])
  assert.equal(table.sharedSize, 1)
  assert.deepEqual([...table.matchShared('a/b')[0]?.nodes ?? []], [['n1', 2], ['n2', 1]])
  assert.deepEqual(table.matchShared('$SYS/x'), [])
  assert.deepEqual([...table.match('plain/x')], ['n1'])
  assert.deepEqual([...table.match('a/b')], [], 'a shared group is no ordinary route')
  assert.equal(table.apply('n1', 2, [{ add: false, filter: shareEntry('g', '#', 2) }]), 'applied')
  assert.deepEqual([...table.matchShared('a/b')[0]?.nodes ?? []], [['n1', 1], ['n2', 1]])
  table.drop('n1')
  table.drop('n2')
  assert.equal(table.sharedSize, 0)
})
