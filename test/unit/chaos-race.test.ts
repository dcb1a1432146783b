/**
 * The takeover races' connectedPct (the share of the race during which the client id held
 * a connection past its CONNACK) and how the summary row shows it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { renderReport } from '../../src/chaos/output.js'
import { connectedPercent } from '../../src/chaos/scenarios/takeover-race.js'
import type { RunResult } from '../../src/chaos/types.js'

test('connectedPercent counts overlapping connection lives once and clips them to the race', () => {
  // 0-1000: lives 100-400 and 300-500 overlap (400 ms), 700-... still open at the end (300 ms),
  // one before the race (clipped to 0-50) and one that never lived (to before from).
  const lives = [{ from: -100, to: 50 }, { from: 100, to: 400 }, { from: 300, to: 500 }, { from: 700 }, { from: 800, to: 790 }]
  assert.equal(connectedPercent(lives, 0, 1000), 75)
})

test('connectedPercent is 0 without a connection and 100 for one that lived through the race', () => {
  assert.equal(connectedPercent([], 0, 1000), 0)
  assert.equal(connectedPercent([{ from: -5 }], 0, 1000), 100)
  assert.equal(connectedPercent([{ from: 10 }], 10, 10), 0)
})

test('the summary row of a scenario shows times and shares as min-max over its runs, counts summed', () => {
  const run = (n: number, connectedPct: number, connackMaxMs: number, connects: number): RunResult => ({
    scenario: 'takeover-race-500', run: n, published: 10, acknowledged: 10, delivered: 10, lost: 0, duplicated: 0, outOfOrder: 0, durationMs: 1000, figures: { connectedPct, connackMaxMs, connects }, checks: []
  })
  const text = renderReport({ settings: {}, startedAt: '', durationS: 1, runs: [run(1, 62, 40, 20), run(2, 95, 12, 30)], failed: false })
  const summary = text.split('\n').find(l => /^takeover-race-500 +all /.test(l)) ?? ''
  assert.match(summary, /connectedPct=62-95 connackMaxMs=12-40 connects=50/, summary)
})
