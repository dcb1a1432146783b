/**
 * pub-node-kill-burst / pub-node-kill-retained: the publisher's node is SIGKILLed from
 * inside the PUBACK callback of the first message of a 50-message burst. Everything
 * acknowledged must be delivered; for the retained variant every topic must also keep
 * its last acknowledged message retained.
 */
import { finish, flowing, openStream, republishing } from '../stream.js'
import type { ChaosContext, RunResult, Scenario } from '../types.js'
import { sleep, waitFor } from '../wait.js'

const BURST = 50
const RETAINED_TOPICS = 10
const PUB_SLOT = 0
const SUB_SLOT = 1

async function pubNodeKill (ctx: ChaosContext, result: RunResult, retained: boolean): Promise<void> {
  let inBurst = false
  let burstIndex = 0
  const base = `chaos/${ctx.tag}`
  const stream = await openStream(ctx, {
    pubSlot: PUB_SLOT,
    subSlot: SUB_SLOT,
    message: () => retained && inBurst
      ? { topic: `${base}/r/${burstIndex++ % RETAINED_TOPICS}`, retain: true }
      : { topic: `${base}/s`, retain: false }
  })
  await flowing(ctx, stream)
  let killedAt = 0
  inBurst = true
  const burst = stream.publisher.burst(BURST, () => {
    killedAt = Date.now()
    void ctx.fleet.kill(PUB_SLOT)
  })
  inBurst = false
  if (await waitFor(() => killedAt > 0, 10_000) === undefined) throw new Error('no PUBACK came for the first message of the burst within 10 s')
  await republishing(stream)
  result.figures.publisherReconnectMs = Date.now() - killedAt
  await sleep(1000)
  await finish(ctx, stream, result)
  result.figures.burstAcked = burst.filter(seq => stream.ledger.isAcked(seq)).length
  if (retained) await checkRetained(ctx, result, base, stream.ledger.lastAckedByTopic())
}

/** A new subscriber gets, for every burst topic, the last acknowledged message or a later one. */
async function checkRetained (ctx: ChaosContext, result: RunResult, base: string, lastAcked: ReadonlyMap<string, number>): Promise<void> {
  const expected = [...lastAcked].filter(([topic]) => topic.startsWith(`${base}/r/`))
  const stored = new Map<string, number>()
  const client = await ctx.pool.connect(ctx.fleet.reconnectUrls('')[0] ?? '', {
    clientId: `${ctx.tag}-retained`,
    clean: true,
    onMessage: (topic, payload) => stored.set(topic, Number(payload.toString()))
  })
  await client.subscribeAsync(`${base}/r/+`, { qos: 1 })
  await waitFor(() => expected.every(([topic]) => stored.has(topic)), 5000)
  const stale = expected.filter(([topic, seq]) => (stored.get(topic) ?? 0) < seq)
  result.figures.retainedTopics = expected.length
  result.figures.retainedStale = stale.length
  result.checks.push({
    name: 'last acknowledged retained message stored per topic',
    ok: stale.length === 0,
    detail: stale.length === 0
      ? `${expected.length} topics checked`
      : `${stale.length} of ${expected.length} topics miss it: ${stale.slice(0, 4).map(([t, seq]) => `${t.slice(base.length + 1)} acked ${seq}, retained ${stored.get(t) ?? 'none'}`).join('; ')}`
  })
}

export const pubNodeKillBurst: Scenario = {
  name: 'pub-node-kill-burst',
  summary: `the publisher's node is SIGKILLed inside the first PUBACK callback of a ${BURST}-message burst; the publisher reconnects elsewhere`,
  run: async (ctx, result) => await pubNodeKill(ctx, result, false)
}

export const pubNodeKillRetained: Scenario = {
  name: 'pub-node-kill-retained',
  summary: `the same with a retained burst on ${RETAINED_TOPICS} topics; then a new subscriber checks every topic kept its last acknowledged message`,
  run: async (ctx, result) => await pubNodeKill(ctx, result, true)
}
