/**
 * The outbox against the real Redis Cluster: what it still holds for a member that is
 * gone is sent, not dropped, so QoS 1/2 messages reach that member's journal (which its
 * reaper replays) and their senders learn that nobody listened.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeFrame } from '../../src/routing/frames.js'
import { Outbox } from '../../src/routing/outbox.js'
import { scriptsOn, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { within } from '../helpers/until.js'

let redis: TestRedis
before(async () => { redis = await useRedisCluster() })
after(async () => { await redis.stop() })

test('a frame still pending for a member that is gone is sent: its QoS 1 messages reach the member\'s journal, and each sender learns that nobody listened', async (t) => {
  const { redis: r, keys, scripts } = scriptsOn(redis.seeds)
  t.after(() => r.disconnect())
  const errors: Error[] = []
  const outbox = new Outbox({
    sender: () => 'sender-node',
    inbox: m => keys.inbox(m),
    send: async (channel, frame) => Number(await r.spublish(channel, frame)),
    sendJournaled: async (m, frame) => await scripts.journalPublish(m, frame, 1000, true),
    onError: (_m, _n, err) => errors.push(err)
  })
  const record = { topic: 't/shared', payload: Buffer.from('held'), qos: 1 as const, retain: false, dup: false, brokerId: 'b', brokerCounter: 1 }
  const settled: Array<Promise<{ err: Error | undefined, receivers: number | undefined }>> = []
  for (const [i, kind] of ['shared', 'publish'].entries()) {
    settled.push(new Promise(resolve => {
      outbox.add('gone-member', w => kind === 'shared'
        ? w.shared({ group: 'g', filter: 't/+', hash: 7, hops: 0 }, { ...record, brokerCounter: i })
        : w.publish({ ...record, brokerCounter: i }), (err, receivers) => resolve({ err, receivers }))
    }))
  }
  // In the same tick, before the outbox would have sent the frame by itself.
  outbox.forget('gone-member')
  const results = await within('both records of the pending frame settled', Promise.all(settled), 10_000)
  assert.deepEqual(results, [{ err: undefined, receivers: 0 }, { err: undefined, receivers: 0 }], 'sent, and nobody listened on the gone member\'s inbox')
  assert.deepEqual(errors, [])
  const entries = await r.xrangeBuffer(keys.journal('gone-member'), '-', '+')
  assert.equal(entries.length, 1, `one frame in the gone member's journal, found ${entries.length}`)
  const frame = entries[0]?.[1][1]
  assert.ok(frame !== undefined, 'the journal entry holds a frame')
  const decoded = decodeFrame(frame)
  assert.equal(decoded.sender, 'sender-node')
  assert.deepEqual(decoded.records.map(rec => rec.kind), ['shared', 'publish'])
})
