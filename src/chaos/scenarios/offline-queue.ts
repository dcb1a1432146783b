/**
 * offline-queue-node-kill: the persistent subscriber disconnects (its session parked on
 * its node), 500 messages are queued for it, the owning node is SIGKILLed, and the
 * subscriber reconnects at once to another node: all 500 must arrive.
 */
import { finish, openStream } from '../stream.js'
import type { Scenario } from '../types.js'
import { waitFor } from '../wait.js'

const QUEUED = 500
const PUB_SLOT = 0
const SUB_SLOT = 1

export const offlineQueueNodeKill: Scenario = {
  name: 'offline-queue-node-kill',
  summary: `the subscriber disconnects, ${QUEUED} messages are queued for it, its node is SIGKILLed, it reconnects at once to another node`,
  run: async (ctx, result) => {
    const stream = await openStream(ctx, { pubSlot: PUB_SLOT, subSlot: SUB_SLOT })
    await stream.subscriber.disconnect()
    stream.publisher.startRate(ctx.options.rate, QUEUED)
    const timeoutMs = Math.ceil(QUEUED / ctx.options.rate * 1000) + 10_000
    if (await waitFor(() => stream.ledger.published >= QUEUED, timeoutMs) === undefined) throw new Error(`only ${stream.ledger.published} of ${QUEUED} messages published within ${timeoutMs} ms`)
    stream.publisher.stopRate()
    await stream.publisher.drained(10_000)
    result.figures.queued = stream.ledger.acknowledged
    await ctx.fleet.kill(SUB_SLOT)
    const target = ctx.fleet.reconnectUrls(ctx.fleet.url(SUB_SLOT))[0]
    if (target === undefined) throw new Error('no live node to reconnect to')
    const reconnect = await stream.subscriber.connect(target)
    result.figures.connackMs = reconnect.connackMs
    result.checks.push({ name: 'session present after the node died', ok: reconnect.sessionPresent, detail: `Session Present ${String(reconnect.sessionPresent)}` })
    await finish(ctx, stream, result)
  }
}
