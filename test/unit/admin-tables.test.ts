import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clampLimit, DEFAULT_LIMIT, MAX_LIMIT, split } from '../../src/admin/cluster-clients.js'
import { actionLine, clientsTable, sessionView, table } from '../../src/admin/tables.js'

test('a table pads each column to its widest cell and leaves no trailing spaces', () => {
  assert.equal(table(['A', 'LONG HEADER'], [['wide cell', 'x'], ['b', '']]), 'A          LONG HEADER\nwide cell  x\nb\n')
})

test('the clients table says which nodes did not answer and which listed only part of their clients', () => {
  const out = clientsTable({
    nodes: [
      { memberId: 'a~1', nodeId: 'a', answered: true, connected: 3, listed: 1 },
      { memberId: 'b~2', nodeId: 'b', answered: false, connected: null, listed: 0 }
    ],
    clients: [{ clientId: 'c1', memberId: 'a~1', nodeId: 'a', remote: '10.0.0.9:5000', clean: false, version: 3, subscriptions: 2, connectedAt: '2026-01-01T00:00:00.000Z' }]
  })
  assert.match(out, /^c1 +a +10\.0\.0\.9:5000 +no +3\.1 +2 +2026-01-01T00:00:00\.000Z$/m)
  assert.match(out, /^3 clients connected to 2 nodes$/m)
  assert.match(out, /^node a: 1 of 3 clients listed \(--limit\)$/m)
  assert.match(out, /^node b \(b~2\) did not answer: its clients are not listed$/m)
})

test('a session is shown one field per line, subscriptions with their QoS', () => {
  assert.equal(sessionView({ clientId: 'x', owner: 'a~1', subscriptions: [{ topic: 't/+', qos: 1 }, { topic: 'u', qos: 0 }], queued: 0, will: null }),
    'clientId       x\nowner          a~1\nsubscriptions  t/+ (QoS 1), u (QoS 0)\nqueued         0\nwill           -\n')
  assert.equal(actionLine('drain', { draining: 'a~1' }), 'draining a~1\n')
})

test('a client limit from a request is a whole number up to the maximum, the default otherwise', () => {
  assert.equal(clampLimit('5'), 5)
  assert.equal(clampLimit('0'), 0)
  assert.equal(clampLimit(String(MAX_LIMIT + 1)), MAX_LIMIT)
  for (const bad of [undefined, '', '-1', '1.5', 'ten']) assert.equal(clampLimit(bad), DEFAULT_LIMIT, String(bad))
})

test('a clients reply is cut into pieces that never split a surrogate pair, and join back to the text', () => {
  const text = 'a'.repeat(15_999) + '\u{1F600}' + 'b'.repeat(20_000)
  const pieces = split(text)
  assert.equal(pieces.join(''), text)
  assert.ok(pieces.every(p => Buffer.byteLength(p) <= 65_535 && !/[\uD800-\uDBFF]$/.test(p)), pieces.map(p => p.length).join(' '))
  assert.deepEqual(split(''), [''])
})
