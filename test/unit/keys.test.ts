import { test } from 'node:test'
import assert from 'node:assert/strict'
import calculateSlot from 'cluster-key-slot'
import { createKeySpace, decodeId, encodeId, firstLevel } from '../../src/redis/keys.js'

const ids = ['plain', 'with{braces}', 'a:b:c', '{c:other}', 'wild/+/#', 'ünï©ødé', '*star*', '']

function tagOf (key: string): string | undefined {
  return /\{([^}]*)\}/.exec(key)?.[1]
}

test('every key of one member hashes to one slot, whatever the id', () => {
  const keys = createKeySpace('t-1:')
  for (const id of ids) {
    const r = keys.routes(id)
    assert.equal(calculateSlot(r.filters), calculateSlot(r.meta), `routes of ${JSON.stringify(id)}`)
  }
})

test('every key of one client session hashes to one slot, whatever the client id', () => {
  const keys = createKeySpace('t-1:')
  for (const id of ids) {
    const slots = new Set(Object.values(keys.session(id)).map(k => calculateSlot(k)))
    assert.equal(slots.size, 1, `session of ${JSON.stringify(id)}`)
    assert.equal(tagOf(keys.session(id).meta), `c:${encodeId(id)}`)
  }
})

test('every member\'s statistics key shares the leases\' slot, whatever the id (one MGET reads them all)', () => {
  const keys = createKeySpace('t-1:')
  for (const id of ids) assert.equal(calculateSlot(keys.nodeStats(id)), calculateSlot(keys.nodes()), `stats of ${JSON.stringify(id)}`)
})

test('ids cannot move the hash tag: each id gets its own tag', () => {
  const keys = createKeySpace()
  const tags = new Set(ids.map(id => tagOf(keys.inbox(id))))
  assert.equal(tags.size, ids.length)
  for (const id of ids) {
    const key = keys.retained(id)
    assert.equal(tagOf(key), `t:${encodeId(id)}`)
    assert.equal((key.match(/\{/g) ?? []).length, 1, key)
  }
})

test('the prefix stays outside the braces, so it namespaces without changing the slot', () => {
  const plain = createKeySpace()
  const prefixed = createKeySpace('tenant-a:')
  assert.ok(prefixed.nodes().startsWith('tenant-a:mqtt:{'), prefixed.nodes())
  assert.equal(calculateSlot(plain.inbox('n1')), calculateSlot(prefixed.inbox('n1')))
  assert.equal(calculateSlot(plain.retainedPartition('a')), calculateSlot(prefixed.retainedPartition('a')))
})

test('ids round-trip through the encoding', () => {
  for (const id of ids) assert.equal(decodeId(encodeId(id)), id)
  assert.doesNotMatch(encodeId('{a}:b*'), /[{}:*]/)
})

test('a topic belongs to the retained partition of its first level', () => {
  assert.equal(firstLevel('a/b/c'), 'a')
  assert.equal(firstLevel('single'), 'single')
  assert.equal(firstLevel('/leading'), '')
  assert.equal(firstLevel('$SYS/x'), '$SYS')
})

test('the Redis users hash and its version share one slot, so one MULTI changes both', () => {
  const keys = createKeySpace('t-1:').auth()
  assert.equal(calculateSlot(keys.users), calculateSlot(keys.version))
  assert.equal(tagOf(keys.users), 'auth')
  assert.ok(keys.users.startsWith('t-1:mqtt:{auth}'), keys.users)
})
