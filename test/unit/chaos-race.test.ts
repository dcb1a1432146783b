/**
 * The takeover races' connectedPct: the share of the race during which the client id held
 * a connection past its CONNACK.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectedPercent } from '../../src/chaos/scenarios/takeover-race.js'

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
