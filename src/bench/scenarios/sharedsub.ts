/**
 * sharedsub: N publishers, each on its own topic, into one shared subscription group of
 * M members (`$share/<group>/<base>/+`), like EMQ's sharedsub benchmark. Publishers and
 * members are placed round-robin over --pub and --sub. Each publish should reach exactly
 * one member: lost and duplicated count across the group, order is checked per member
 * and publisher, and the result shows how many messages each member got.
 */
import { pick, runId } from '../clients.js'
import type { BenchOptions, BenchResult } from '../types.js'
import { runFlow } from './flow.js'

export async function sharedsub (opts: BenchOptions & { publishers?: number }): Promise<BenchResult> {
  const members = opts.clients ?? 10
  const publishers = opts.publishers ?? 10
  const id = runId()
  const base = `bench/${id}/sharedsub`
  const result = await runFlow({
    scenario: 'sharedsub',
    pubs: Array.from({ length: publishers }, (_, i) => ({ url: pick(opts.pub, i), topic: `${base}/${i}` })),
    subs: Array.from({ length: members }, (_, i) => ({ url: pick(opts.sub, i), filter: `$share/bench-${id}/${base}/+` })),
    receivers: () => 1,
    group: true
  }, opts)
  return { ...result, settings: { ...result.settings, members } }
}
