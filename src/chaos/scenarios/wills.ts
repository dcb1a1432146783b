/**
 * wills-node-kill: 50 clients with wills on one node, which is SIGKILLed. Each will must
 * arrive exactly once, within the lease time plus a second.
 */
import type { Scenario } from '../types.js'
import { sleep, waitFor } from '../wait.js'
import { connectWillClients, willFilter } from '../will-clients.js'

const CLIENTS = 50
const WATCHER_SLOT = 0

export const willsNodeKill: Scenario = {
  name: 'wills-node-kill',
  summary: `${CLIENTS} clients with wills (every other one persistent) on one node, SIGKILLed; each will exactly once, within lease + 1 s`,
  run: async (ctx, result) => {
    const base = `chaos/${ctx.tag}`
    const doomed = ctx.fleet.size - 1
    let onWill: (topic: string) => void = () => {}
    const watcher = await ctx.pool.connect(ctx.fleet.url(WATCHER_SLOT), { clientId: `${ctx.tag}-watcher`, clean: true, onMessage: topic => onWill(topic) })
    await watcher.subscribeAsync(willFilter(base), { qos: 1 })
    const wills = await connectWillClients(ctx, base, [doomed], CLIENTS, 2)
    onWill = wills.onWill
    await ctx.fleet.kill(doomed)
    const killedAt = Date.now()
    const limitMs = ctx.options.leaseTtlMs + 1000
    await waitFor(() => wills.distinct() >= CLIENTS, limitMs + 10_000)
    // Late second copies: a quiet second after the last will.
    await sleep(1000)
    result.published = CLIENTS
    result.acknowledged = CLIENTS
    result.delivered = wills.distinct()
    result.lost = CLIENTS - wills.distinct()
    result.duplicated = wills.duplicated()
    const lastMs = wills.lastAt() === 0 ? -1 : wills.lastAt() - killedAt
    result.figures.lastWillMs = lastMs
    result.checks.push({ name: 'every will exactly once', ok: wills.distinct() === CLIENTS && wills.duplicated() === 0, detail: `${wills.distinct()} of ${CLIENTS} wills, ${wills.duplicated()} duplicates` })
    result.checks.push({ name: 'last will within lease + 1 s', ok: lastMs >= 0 && lastMs <= limitMs, detail: `${lastMs} ms after SIGKILL (limit ${limitMs} ms)` })
  }
}
