import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame, FRAME_VERSION, FrameWriter, LEGACY_FRAME_VERSION, type PublishRecord } from '../../src/routing/frames.js'
import { wallClockMs } from '../../src/util/wall-clock.js'

const publish: Omit<PublishRecord, 'kind'> = { topic: 'a/b', payload: Buffer.from('hello'), qos: 1, retain: false, dup: false, brokerId: 'n~1', brokerCounter: 7 }

test('a version 3 frame carries each message\'s publish time, fractions of a millisecond included', () => {
  const at = 1796052196945.123
  const frame = new FrameWriter('n~1', 5)
    .publish({ ...publish, publishedAt: at })
    .direct('c', { ...publish, publishedAt: at + 1 })
    .shared({ group: 'g', filter: 'a/#', hash: 3, hops: 0 }, { ...publish, publishedAt: at + 2 })
    .publish(publish)
    .finish()
  assert.equal(frame[0], FRAME_VERSION)
  const { version, sender, seq, records } = decodeFrame(frame)
  assert.deepEqual([version, sender, seq], [3, 'n~1', 5])
  assert.deepEqual(records, [
    { kind: 'publish', ...publish, publishedAt: at },
    { kind: 'direct', clientId: 'c', publish: { kind: 'publish', ...publish, publishedAt: at + 1 } },
    { kind: 'shared', group: 'g', filter: 'a/#', hash: 3, hops: 0, publish: { kind: 'publish', ...publish, publishedAt: at + 2 } },
    // No time known: none decoded (0 on the wire).
    { kind: 'publish', ...publish }
  ])
})

test('a legacy writer leaves publish times out, byte for byte the format of releases that read version 2 only', () => {
  const frame = new FrameWriter('n~1', 5, LEGACY_FRAME_VERSION).publish({ ...publish, publishedAt: 1796052196945 }).ack(9).finish()
  // What a version 2 node wrote, spelled out: header, publish record, ack record.
  const expected = Buffer.concat([
    Buffer.from([2, 3]), Buffer.from('n~1'), u32(5),
    Buffer.from([1, 1]), u16(3), Buffer.from('a/b'), Buffer.from([3]), Buffer.from('n~1'), f64(7), u32(5), Buffer.from('hello'),
    Buffer.from([3]), u32(9)
  ])
  assert.deepEqual(frame, expected)
  const decoded = decodeFrame(frame)
  assert.equal(decoded.version, LEGACY_FRAME_VERSION)
  assert.deepEqual(decoded.records, [{ kind: 'publish', ...publish }, { kind: 'ack', seq: 9 }])
})

test('a frame from a node of an older release (version 2, no publish time) is read', () => {
  const old = Buffer.concat([
    Buffer.from([2, 4]), Buffer.from('o~01'), u32(1),
    Buffer.from([1, 0]), u16(1), Buffer.from('t'), Buffer.from([4]), Buffer.from('o~01'), f64(3), u32(2), Buffer.from('hi'),
    Buffer.from([8]), u16(1), Buffer.from('c'), Buffer.from([1, 2]), u16(1), Buffer.from('t'), Buffer.from([4]), Buffer.from('o~01'), f64(4), u32(0)
  ])
  const { version, sender, records } = decodeFrame(old)
  assert.deepEqual([version, sender], [2, 'o~01'])
  assert.deepEqual(records, [
    { kind: 'publish', topic: 't', payload: Buffer.from('hi'), qos: 0, retain: false, dup: false, brokerId: 'o~01', brokerCounter: 3 },
    { kind: 'direct', clientId: 'c', publish: { kind: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 2, retain: false, dup: false, brokerId: 'o~01', brokerCounter: 4 } }
  ])
})

test('a version 3 publish costs 8 bytes more than a version 2 one, the frame header nothing', () => {
  const v2 = new FrameWriter('n~1', 1, LEGACY_FRAME_VERSION)
  const v3 = new FrameWriter('n~1', 1)
  assert.equal(v3.bytes, v2.bytes)
  v2.publish(publish).routes(1, []).hello()
  v3.publish({ ...publish, publishedAt: 1 }).routes(1, []).hello()
  assert.equal(v3.bytes - v2.bytes, 8)
})

test('a version this release does not know is refused, as releases before it refuse version 3', () => {
  assert.throws(() => decodeFrame(Buffer.from([4, 0, 0, 0, 0, 1])), /unknown frame version/)
  assert.throws(() => decodeFrame(Buffer.from([1, 0, 0, 0, 0, 1])), /unknown frame version/)
  // A version 3 publish read as version 2 would be misread: its version byte prevents it.
  const frame = new FrameWriter('n', 1).publish({ ...publish, publishedAt: 1 }).finish()
  frame[0] = LEGACY_FRAME_VERSION
  assert.throws(() => decodeFrame(frame))
})

test('the wall clock has fractions of a millisecond, never goes back, and stays on Date.now()', () => {
  let last = 0
  let fractions = 0
  for (let i = 0; i < 1000; i++) {
    const before = Date.now()
    const t = wallClockMs()
    const after = Date.now()
    assert.ok(t >= before - 1 && t <= after + 2, `reading ${i}: ${t} outside [${before}, ${after}]`)
    assert.ok(t >= last, `reading ${i}: ${t} before the previous ${last}`)
    if (!Number.isInteger(t)) fractions++
    last = t
  }
  assert.ok(fractions > 0, 'whole milliseconds only')
})

function u16 (n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }
function u32 (n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
function f64 (n: number): Buffer { const b = Buffer.alloc(8); b.writeDoubleBE(n); return b }
