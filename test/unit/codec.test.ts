import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeRetained, encodeRetained } from '../../src/redis/codec.js'
import { decodeFrame, FrameWriter } from '../../src/routing/frames.js'
import { BrokerError } from '../../src/errors.js'

test('a frame carries batched publishes and control records in order', () => {
  const payload = Buffer.from([0, 1, 2, 255])
  const frame = new FrameWriter('node-a~01', 4242)
    .publish({ topic: 'a/ü/c', payload, qos: 2, retain: true, dup: false, brokerId: 'node-a~01', brokerCounter: 2 ** 40 })
    .publish({ topic: 'b', payload: Buffer.alloc(0), qos: 0, retain: false, dup: true, brokerId: '', brokerCounter: 0 })
    .routes(7, [{ add: true, filter: 'x/+' }, { add: false, filter: '#' }])
    .ack(7).ping(4294967295).hello().gone('node-b~02')
    .kick('client {1}', '1796052196945').adopt('c', '17')
    .direct('c', { topic: 't', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, brokerId: 'n', brokerCounter: 3 })
    .finish()
  const { sender, seq, records } = decodeFrame(frame)
  assert.equal(sender, 'node-a~01')
  assert.equal(seq, 4242)
  assert.deepEqual(records, [
    { kind: 'publish', topic: 'a/ü/c', payload, qos: 2, retain: true, dup: false, brokerId: 'node-a~01', brokerCounter: 2 ** 40 },
    { kind: 'publish', topic: 'b', payload: Buffer.alloc(0), qos: 0, retain: false, dup: true, brokerId: '', brokerCounter: 0 },
    { kind: 'routes', seq: 7, changes: [{ add: true, filter: 'x/+' }, { add: false, filter: '#' }] },
    { kind: 'ack', seq: 7 },
    { kind: 'ping', nonce: 4294967295 },
    { kind: 'hello' },
    { kind: 'gone', memberId: 'node-b~02' },
    { kind: 'kick', clientId: 'client {1}', epoch: '1796052196945' },
    { kind: 'adopt', clientId: 'c', epoch: '17' },
    { kind: 'direct', clientId: 'c', publish: { kind: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, brokerId: 'n', brokerCounter: 3 } }
  ])
})

test('publishes from different brokers in one frame keep each their own broker id', () => {
  // Same length, different bytes; then a repeat after another id; then a shorter one.
  const ids = ['broker-a', 'broker-b', 'broker-b', 'broker-a', 'b', 'broker-a']
  const writer = new FrameWriter('n', 1)
  ids.forEach((brokerId, i) => writer.publish({ topic: 't', payload: Buffer.from([i]), qos: 0, retain: false, dup: false, brokerId, brokerCounter: i }))
  const { records } = decodeFrame(writer.finish())
  assert.deepEqual(records.map(r => r.kind === 'publish' ? [r.brokerId, r.brokerCounter] : r.kind), ids.map((id, i) => [id, i]))
})

test('a truncated or unknown frame is rejected with a clear error, not misread', () => {
  const frame = new FrameWriter('n').publish({ topic: 't', payload: Buffer.from('hello'), qos: 1, retain: false, dup: false, brokerId: 'n', brokerCounter: 1 }).finish()
  assert.throws(() => decodeFrame(frame.subarray(0, frame.length - 2)), (err: unknown) => err instanceof BrokerError && /truncated/.test(err.message))
  assert.throws(() => decodeFrame(Buffer.from([9, 0])), /unknown frame version/)
  assert.throws(() => decodeFrame(Buffer.from([2, 0, 0, 0, 0, 7, 42])), /unknown record type 42/)
})

test('a retained message keeps its payload bytes and packet fields', () => {
  const packet = { cmd: 'publish', topic: 'a/b', payload: Buffer.from([0xde, 0xad]), qos: 1, retain: true, id: 'broker-42' }
  assert.deepEqual(decodeRetained('a/b', encodeRetained(packet)), packet)
})
