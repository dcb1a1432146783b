import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RouteTable } from '../../src/routing/route-table.js'

const members = (table: RouteTable, topic: string): string[] => [...table.match(topic)].sort()

test('a topic matched before a route change is matched again after it (deltas, snapshots, a member gone)', () => {
  const table = new RouteTable()
  table.replace('a', 0, ['s/+/t'])
  table.replace('b', 0, [])
  assert.deepEqual(members(table, 's/1/t'), ['a'])

  assert.equal(table.apply('b', 1, [{ add: true, filter: 's/#' }]), 'applied')
  assert.deepEqual(members(table, 's/1/t'), ['a', 'b'])

  assert.equal(table.apply('a', 1, [{ add: false, filter: 's/+/t' }]), 'applied')
  assert.deepEqual(members(table, 's/1/t'), ['b'])

  table.replace('a', 5, ['s/1/t'])
  assert.deepEqual(members(table, 's/1/t'), ['a', 'b'])

  table.drop('b')
  assert.deepEqual(members(table, 's/1/t'), ['a'])
  assert.deepEqual(members(table, 'other'), [])
})

test('a stale or out-of-order delta changes no match', () => {
  const table = new RouteTable()
  table.replace('a', 3, ['x'])
  assert.deepEqual(members(table, 'x'), ['a'])
  assert.equal(table.apply('a', 3, [{ add: false, filter: 'x' }]), 'stale')
  assert.equal(table.apply('a', 5, [{ add: false, filter: 'x' }]), 'gap')
  assert.deepEqual(members(table, 'x'), ['a'])
})
