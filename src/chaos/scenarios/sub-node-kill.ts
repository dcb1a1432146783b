/**
 * sub-node-kill: the persistent subscriber's node is SIGKILLed mid-stream; the
 * subscriber reconnects at once to another node with the same client id. Reports the
 * reconnect's CONNACK time; duplicates must stay within the in-flight window plus what the
 * stream brings in one interval of the session's acknowledgement mark (the dead node's
 * journal is replayed from its last mark).
 */
import { finish, flowing, openStream, resubscribed } from '../stream.js'
import type { Scenario } from '../types.js'
import { sleep } from '../wait.js'
import { MARK_EVERY_MS } from '../../sessions/outgoing.js'

const PUB_SLOT = 0
const SUB_SLOT = 1

export const subNodeKill: Scenario = {
  name: 'sub-node-kill',
  summary: 'the persistent subscriber\'s node is SIGKILLed; it reconnects at once to another node (clean session 0, same client id)',
  run: async (ctx, result) => {
    const stream = await openStream(ctx, { pubSlot: PUB_SLOT, subSlot: SUB_SLOT })
    await flowing(ctx, stream)
    await ctx.fleet.kill(SUB_SLOT)
    await resubscribed(stream)
    const reconnect = stream.subscriber.reconnects[0]
    if (reconnect !== undefined) result.figures.connackMs = reconnect.connackMs
    await sleep(1000)
    await finish(ctx, stream, result)
    const markWindow = Math.ceil(ctx.options.rate * MARK_EVERY_MS / 1000)
    result.checks.push({
      name: 'duplicates within the in-flight window and one mark interval',
      ok: result.duplicated <= ctx.options.maxInflight + markWindow,
      detail: `${result.duplicated} duplicates, window ${ctx.options.maxInflight} + ${markWindow}`
    })
  }
}
