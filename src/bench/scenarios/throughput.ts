/**
 * p2p: N pairs, each publisher on its own topic with one subscriber.
 * fanout: one publisher, M subscribers on its topic.
 * fanin: M publishers on their own topics, one subscriber through a wildcard.
 * Publishers and subscribers are placed round-robin over --pub and --sub.
 */
import { pick, runId } from '../clients.js'
import type { BenchOptions, BenchResult } from '../types.js'
import { runFlow } from './flow.js'

export async function p2p (opts: BenchOptions): Promise<BenchResult> {
  const n = opts.clients ?? 10
  const base = `bench/${runId()}/p2p`
  return await runFlow({
    scenario: 'p2p',
    pubs: Array.from({ length: n }, (_, i) => ({ url: pick(opts.pub, i), topic: `${base}/${i}` })),
    subs: Array.from({ length: n }, (_, i) => ({ url: pick(opts.sub, i), filter: `${base}/${i}` })),
    receivers: () => 1
  }, opts)
}

export async function fanout (opts: BenchOptions): Promise<BenchResult> {
  const m = opts.clients ?? 10
  const topic = `bench/${runId()}/fanout`
  return await runFlow({
    scenario: 'fanout',
    pubs: [{ url: pick(opts.pub, 0), topic }],
    subs: Array.from({ length: m }, (_, i) => ({ url: pick(opts.sub, i), filter: topic })),
    receivers: () => m
  }, opts)
}

export async function fanin (opts: BenchOptions): Promise<BenchResult> {
  const m = opts.clients ?? 10
  const base = `bench/${runId()}/fanin`
  return await runFlow({
    scenario: 'fanin',
    pubs: Array.from({ length: m }, (_, i) => ({ url: pick(opts.pub, i), topic: `${base}/${i}` })),
    subs: [{ url: pick(opts.sub, 0), filter: `${base}/+` }],
    receivers: () => 1
  }, opts)
}
