import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConnectionRate, Gcra, LogThrottle } from '../../src/listeners/rate.js'

test('a rate lets a burst of one second through, then one event per interval', () => {
  const rate = new Gcra(4)
  const t = 10_000
  assert.deepEqual([1, 2, 3, 4, 5].map(() => rate.tryTake(t)), [true, true, true, true, false])
  assert.equal(rate.tryTake(t + 249), false)
  assert.equal(rate.tryTake(t + 250), true)
  assert.equal(rate.tryTake(t + 250), false)
})

test('a full bucket is idle, and refills after a quiet second', () => {
  const rate = new Gcra(2)
  assert.equal(rate.idle(0), true)
  rate.tryTake(0)
  rate.tryTake(0)
  assert.equal(rate.idle(500), false)
  assert.equal(rate.idle(1000), true)
  assert.deepEqual([rate.tryTake(1000), rate.tryTake(1000), rate.tryTake(1000)], [true, true, false])
})

test('reserve schedules every event: none is refused, later ones wait longer', () => {
  const rate = new Gcra(5)
  const waits = Array.from({ length: 8 }, () => rate.reserve(0))
  assert.deepEqual(waits.slice(0, 5), [0, 0, 0, 0, 0])
  assert.deepEqual(waits.slice(5).map(w => Math.round(w)), [200, 400, 600])
})

test('connection rates are counted per address', () => {
  const rate = new ConnectionRate(1)
  assert.equal(rate.admit('10.0.0.1', 0), true)
  assert.equal(rate.admit('10.0.0.1', 0), false)
  assert.equal(rate.admit('10.0.0.2', 0), true)
  assert.equal(rate.admit('10.0.0.1', 1000), true)
})

test('the log throttle lets one line per interval through and reports how many it held back', () => {
  const throttle = new LogThrottle(10_000)
  assert.deepEqual(throttle.take('connections', 0), { log: true, suppressed: 0 })
  assert.equal(throttle.take('connections', 1).log, false)
  assert.equal(throttle.take('connections', 2).log, false)
  assert.equal(throttle.take('subscriptions', 3).log, true)
  assert.deepEqual(throttle.take('connections', 10_000), { log: true, suppressed: 2 })
})
