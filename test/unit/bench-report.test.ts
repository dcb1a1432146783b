/**
 * `slotmq bench` output without brokers: seconds of the timeline and the part of the last
 * one a phase covered, rate points (no collapse to 0 at the end), round axis ticks,
 * progress lines for a log, and which charts the HTML report draws.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { niceStep, niceTicks } from '../../src/bench/chart.js'
import { ProgressLog, renderTable } from '../../src/bench/output.js'
import { Recorder } from '../../src/bench/recorder.js'
import { htmlReport, ratePoints } from '../../src/bench/report.js'
import type { BenchResult } from '../../src/bench/types.js'

const T0 = 1_000_000

/**
 * 100 publishes a second for 4 s to `subscribers` subscribers, each received 5 ms later
 * and acknowledged 3 ms later; a few publishes of a rate-limited sender land just after
 * the end, and the last receptions `tailMs` after it.
 */
function run (subscribers: number, tailMs: number): Recorder {
  const rec = new Recorder(T0, subscribers)
  let seq = 0
  for (let at = T0; at < T0 + 4000; at += 10) {
    rec.onSent(at, subscribers)
    rec.onAck(3, at + 3)
    seq++
    for (let s = 0; s < subscribers; s++) rec.onReceived(`${s}|t`, seq, 5, at + 5, s)
  }
  rec.onSent(T0 + 4001, subscribers)
  rec.endSending(T0 + 4000)
  seq++
  for (let s = 0; s < subscribers; s++) rec.onReceived(`${s}|t`, seq, 5, T0 + 4000 + tailMs, s)
  return rec
}

test('the timeline says which part of its last second each phase covered; every earlier second is whole', () => {
  const timeline = run(1, 6).timeline()
  assert.deepEqual(timeline.map(s => s.second), [1, 2, 3, 4, 5])
  assert.deepEqual(timeline.map(s => s.sent), [100, 100, 100, 100, 1])
  assert.deepEqual(timeline.map(s => s.covered.sent), [1, 1, 1, 1, 0], 'sending ended with second 4')
  assert.deepEqual(timeline.map(s => s.covered.received), [1, 1, 1, 1, 0.006])
  assert.deepEqual(timeline.map(s => s.covered.ack), [1, 1, 1, 0.993, 0], 'the last ack came at 3.993 s')
  assert.deepEqual(timeline.map(s => s.ack.count), [100, 100, 100, 100, 0])
  assert.equal(timeline[0]?.perSubscriber, undefined, 'one subscriber: no spread')
})

test('rate points: a last second covered for a few milliseconds is left out, one covered for most of it is scaled, never a drop to 0', () => {
  const short = run(1, 6).timeline()
  assert.deepEqual(ratePoints(short, 'sent', s => s.sent), [[1, 100], [2, 100], [3, 100], [4, 100]])
  assert.deepEqual(ratePoints(short, 'received', s => s.received), [[1, 100], [2, 100], [3, 100], [4, 100]])

  const long = run(1, 600).timeline()
  const received = ratePoints(long, 'received', s => s.received)
  assert.equal(received.length, 5)
  assert.deepEqual(received[4], [4.6, 1 / 0.6], 'one message in the 0.6 s the drain lasted, drawn at 4.6 s')
})

test('fan-out: each second has the fewest, median and most messages of any subscriber', () => {
  const rec = new Recorder(T0, 3)
  for (let i = 1; i <= 10; i++) {
    rec.onSent(T0 + i, 3)
    rec.onReceived('0|t', i, 1, T0 + i, 0)
    if (i <= 5) rec.onReceived('1|t', i, 1, T0 + i, 1)
    if (i <= 8) rec.onReceived('2|t', i, 1, T0 + i, 2)
  }
  assert.deepEqual(rec.timeline()[0]?.perSubscriber, { min: 5, median: 8, max: 10 })
})

test('ticks are round: 1, 2 or 5 x 10^n from 0 up to the first at or above the largest value, labels without float noise', () => {
  assert.deepEqual(niceTicks(358).map(t => t[1]), ['0', '100', '200', '300', '400'])
  assert.deepEqual(niceTicks(0.83).map(t => t[1]), ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0'])
  assert.deepEqual(niceTicks(0.3).map(t => t[0]), [0, 0.1, 0.2, 0.3])
  assert.deepEqual(niceTicks(123_456).map(t => t[1]), ['0', '50,000', '100,000', '150,000'])
  assert.deepEqual(niceTicks(4.6).map(t => t[1]), ['0', '1', '2', '3', '4', '5'])
  assert.deepEqual(niceTicks(3).map(t => t[1]), ['0', '1', '2', '3'], 'whole seconds for a 3 s run')
  assert.deepEqual(niceTicks(0).map(t => t[0]), [0, 1], 'nothing but zeros still gets an axis')
  for (const max of [0.0007, 0.9, 3, 17, 99.9, 1000, 2_345_678]) {
    const step = niceStep(max)
    const m = step / 10 ** Math.floor(Math.log10(step) + 1e-9)
    assert.ok([1, 2, 5].some(r => Math.abs(m - r) < 1e-9), `step ${step} for ${max}`)
    assert.ok(max / step <= 5 + 1e-9, `at most 5 steps for ${max}`)
  }
})

test('progress for a log: a whole line every interval, with totals and the rate since the previous line', () => {
  const log = new ProgressLog('p2p', 5)
  const at = (elapsedS: number, sent: number, received: number): string | undefined => log.line({ elapsedS, sent, received, sentPerS: 0, receivedPerS: 0 })
  assert.equal(at(1, 100, 90), undefined)
  assert.equal(at(4.95, 500, 490), 'slotmq bench p2p: 5.0 s, sent 500 msg (101 msg/s), received 490 msg (99 msg/s)', 'a timer a little early still counts')
  assert.equal(at(9, 900, 900), undefined)
  assert.equal(at(10, 1000, 1000), 'slotmq bench p2p: 10.0 s, sent 1,000 msg (99 msg/s), received 1,000 msg (101 msg/s)')
  const steps = new ProgressLog('conn', 1)
  assert.equal(steps.line({ elapsedS: 2, sentPerS: 0, receivedPerS: 0, steps: { done: 300, total: 1000, unit: 'connections' } }),
    'slotmq bench conn: 2.0 s, 300 of 1,000 connections (150/s)')
  assert.equal(new ProgressLog('p2p', 0).line({ elapsedS: 100, sentPerS: 0, receivedPerS: 0 }), undefined, '--progress 0: none')
})

function fanoutResult (): BenchResult {
  const rec = run(4, 6)
  return {
    scenario: 'fanout',
    settings: { publishers: 1, subscribers: 4, qos: 1, note: 'a-very-long-value-without-any-space-'.repeat(8) },
    durationS: 4,
    sent: rec.sent,
    received: rec.received,
    expected: rec.expected,
    lost: rec.lost,
    duplicated: 0,
    outOfOrder: 0,
    errors: 0,
    sentPerS: 100,
    receivedPerS: 400,
    latency: { count: 1, min: 5, mean: 5, p50: 5, p90: 5, p95: 5, p99: 5, p999: 5, max: 5 },
    ack: { count: 1, min: 3, mean: 3, p50: 3, p90: 3, p95: 3, p99: 3, p999: 3, max: 3 },
    timings: {},
    facts: { subscribers: 4 },
    timeline: rec.timeline(),
    distribution: [[50, 5], [100, 6]],
    ackDistribution: [[50, 3], [100, 4]]
  }
}

test('the report: fan-out gets publish, receive and per-subscriber rate charts, an ack chart, and the summary as a table', () => {
  const html = htmlReport(fanoutResult())
  const ids = [...html.matchAll(/class="chart" id="([^"]+)"/g)].map(m => m[1])
  assert.deepEqual(ids, ['latency-over-time', 'ack-latency', 'publish-rate', 'receive-rate', 'per-subscriber-rate', 'latency-distribution'])
  assert.match(html, /<section class="summary" id="summary">.*<tr><th>sent<\/th><td>401 msg {2}\(100 msg\/s\)<\/td><\/tr>/s)
  assert.match(html, /data-series="publish ack"/, 'the distribution has the ack latency too')
  assert.doesNotMatch(html, /<pre>/, 'no preformatted block to overflow')
})

test('the report: without fan-out one throughput chart; a scenario without messages gets its timings\' distributions', () => {
  const p2p = { ...fanoutResult(), scenario: 'p2p', expected: 401 }
  assert.match(htmlReport(p2p), /id="throughput"/)
  const subprop: BenchResult = {
    ...fanoutResult(),
    scenario: 'subprop',
    sent: 0,
    received: 0,
    timeline: [],
    timings: { suback_to_first_delivery: { count: 3, min: 1, mean: 2, p50: 2, p90: 3, p95: 3, p99: 3, p999: 3, max: 3 } },
    timingDistributions: { suback_to_first_delivery: [[50, 2], [100, 3]] }
  }
  const html = htmlReport(subprop)
  assert.deepEqual([...html.matchAll(/class="chart" id="([^"]+)"/g)].map(m => m[1]), ['distribution-suback-to-first-delivery'])
  assert.match(renderTable(subprop), /suback to first delivery ms\s+p50 2\.00/)
})
