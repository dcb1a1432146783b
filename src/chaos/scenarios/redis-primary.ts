/**
 * lease-primary-kill / -failover and session-primary-kill / -failover: kill -9 of (or
 * CLUSTER FAILOVER away from) the Redis primary serving the slot of the membership
 * leases (`<prefix>mqtt:{nodes}`) or of the subscriber's session (`{c:<client id>}`),
 * mid-stream, with 10 clients with wills connected to every node. No live node may be
 * reaped and no will may be published for a client that is still connected.
 */
import { createKeySpace } from '../../redis/keys.js'
import { failoverPrimaryOf, killPrimaryOf, redisWhole } from '../redis-target.js'
import { keySlot } from '../redis-shards.js'
import { finish, flowing, openStream } from '../stream.js'
import type { ChaosContext, RunResult, Scenario } from '../types.js'
import { sleep, waitFor } from '../wait.js'
import { connectWillClients, willFilter } from '../will-clients.js'

type Target = 'lease' | 'session'
type Fault = 'kill' | 'failover'

const WILLS_PER_NODE = 10
const PROMOTE_TIMEOUT_MS = 30_000
/** Messages that show a live node was reaped (src/routing). */
const REAPED = ['own lease was reaped', 'rejoining under a new identity'] as const

async function primaryFault (ctx: ChaosContext, result: RunResult, target: Target, fault: Fault): Promise<void> {
  if (!ctx.redis.cluster) {
    result.skipped = 'needs a Redis Cluster'
    return
  }
  if (fault === 'kill' && ctx.redis.local === undefined) {
    result.skipped = 'kill -9 only of a Redis this run started (without --redis)'
    return
  }
  if (await waitFor(async () => await redisWhole(ctx.redis), 60_000, 200) === undefined) throw new Error('the Redis Cluster is not whole (a primary without a replica in sync) after 60 s')
  const base = `chaos/${ctx.tag}`
  const subscriberId = `${ctx.tag}-sub`
  let onWill: (topic: string) => void = () => {}
  const stream = await openStream(ctx, { pubSlot: 0, subSlot: 1, subscriberId, extra: { filters: [willFilter(base)], onMessage: topic => onWill(topic) } })
  const wills = await connectWillClients(ctx, base, Array.from({ length: ctx.fleet.size }, (_, i) => i), WILLS_PER_NODE)
  onWill = wills.onWill
  const membersBefore = await ctx.fleet.memberIds()
  const saidBefore = REAPED.map(m => ctx.fleet.said(m))
  await flowing(ctx, stream)

  const keys = createKeySpace(ctx.prefix)
  const slot = await keySlot(ctx.redis.seeds, target === 'lease' ? keys.nodes() : keys.session(subscriberId).meta)
  result.figures.slot = slot
  const { promotedMs } = fault === 'kill'
    ? await killPrimaryOf(ctx.redis, slot, PROMOTE_TIMEOUT_MS)
    : await failoverPrimaryOf(ctx.redis, slot, PROMOTE_TIMEOUT_MS)
  result.figures.promotedMs = promotedMs ?? -1
  result.checks.push({ name: 'a replica took over the slot', ok: promotedMs !== undefined, detail: promotedMs === undefined ? `not within ${PROMOTE_TIMEOUT_MS} ms` : `after ${promotedMs} ms` })
  // Watch for two lease times after the slot is served again: a node whose lease ran out
  // meanwhile is reaped (and its wills published) within that.
  await sleep(2 * ctx.options.leaseTtlMs + 1000)
  await finish(ctx, stream, result)

  const membersAfter = await ctx.fleet.memberIds()
  const changed = membersBefore.filter((m, i) => m !== undefined && membersAfter[i] !== undefined && membersAfter[i] !== m).length
  const said = REAPED.map((m, i) => ctx.fleet.said(m) - (saidBefore[i] ?? 0))
  result.figures.nodesReaped = Math.max(changed, said[0] ?? 0)
  result.figures.rejoins = said[1] ?? 0
  result.figures.willsForConnected = wills.forConnected()
  result.figures.willClientsDropped = wills.disconnected()
  result.checks.push({
    name: 'no live node reaped',
    ok: result.figures.nodesReaped === 0,
    detail: `${changed} member ids changed, '${REAPED[0]}' logged ${said[0] ?? 0} times, '${REAPED[1]}' ${said[1] ?? 0} times`
  })
  result.checks.push({
    name: 'no will published for a connected client',
    ok: wills.forConnected() === 0,
    detail: `${wills.distinct()} wills received for ${wills.names.length} clients, ${wills.forConnected()} while their client was connected, ${wills.disconnected()} clients dropped`
  })
}

function scenario (target: Target, fault: Fault): Scenario {
  const what = target === 'lease' ? 'the membership leases ({nodes})' : 'the subscriber\'s session ({c:<client id>})'
  return {
    name: `${target}-primary-${fault}`,
    summary: `${fault === 'kill' ? 'kill -9 of' : 'CLUSTER FAILOVER away from'} the Redis primary holding ${what}, with ${WILLS_PER_NODE} will clients per node`,
    run: async (ctx, result) => await primaryFault(ctx, result, target, fault)
  }
}

export const leasePrimaryKill = scenario('lease', 'kill')
export const leasePrimaryFailover = scenario('lease', 'failover')
export const sessionPrimaryKill = scenario('session', 'kill')
export const sessionPrimaryFailover = scenario('session', 'failover')
