/**
 * The chaos suite's books (README: `slotmq chaos` counts published, acknowledged,
 * delivered, lost, duplicated and out-of-order messages, and a run that lost an
 * acknowledged message or failed a check fails).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Ledger } from '../../src/chaos/ledger.js'
import { runFailed } from '../../src/chaos/runner.js'
import type { RunResult } from '../../src/chaos/types.js'

function result (fields: Partial<RunResult> = {}): RunResult {
  return { scenario: 's', run: 1, published: 0, acknowledged: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0, figures: {}, checks: [], durationMs: 0, ...fields }
}

test('the ledger counts an acknowledged message never delivered as lost, a second delivery as duplicated, a late one as out of order', () => {
  const ledger = new Ledger()
  for (let i = 0; i < 6; i++) ledger.next()
  // 1 to 5 acknowledged (6 published, no PUBACK); 4 never arrives.
  for (const seq of [1, 2, 3, 4, 5]) ledger.ack(seq, 't')
  for (const seq of [1, 3, 2, 3, 5]) ledger.deliver('t', Buffer.from(String(seq)))
  ledger.deliver('t', Buffer.from('marker'))
  const r = result()
  ledger.fill(r)
  assert.deepEqual(
    { published: r.published, acknowledged: r.acknowledged, delivered: r.delivered, lost: r.lost, duplicated: r.duplicated, outOfOrder: r.outOfOrder },
    { published: 6, acknowledged: 5, delivered: 4, lost: 1, duplicated: 1, outOfOrder: 1 })
  assert.deepEqual(ledger.missing(), [4])
})

test('a run fails when an acknowledged message was lost or a check failed, not when it was skipped', () => {
  assert.equal(runFailed(result()), false)
  assert.equal(runFailed(result({ lost: 1 })), true)
  assert.equal(runFailed(result({ checks: [{ name: 'takeover closes the old connection', ok: false, detail: '' }] })), true)
  assert.equal(runFailed(result({ lost: 1, skipped: 'no Redis Cluster' })), false)
})
