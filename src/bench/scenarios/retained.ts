/**
 * retained: R retained messages (--clients, default 1000) published on --pub, then one
 * wildcard subscription on --sub. Measured: time from SUBSCRIBE until all R arrived, and
 * how many did. The messages are deleted again afterwards.
 */
import { ClientPool, pick, runId } from '../clients.js'
import { makePayload, nowMs } from '../payload.js'
import type { BenchOptions, BenchResult } from '../types.js'
import { eventResult, Timings, within } from './common.js'

export async function retained (opts: BenchOptions): Promise<BenchResult> {
  const count = opts.clients ?? 1000
  const base = `bench/${runId()}/retained`
  const topicOf = (i: number): string => `${base}/${i % 10}/${i}`
  const pool = new ClientPool()
  const started = nowMs()
  const all = new Timings()
  const firstMessage = new Timings()
  let received = 0
  try {
    const pub = await pool.connect(pick(opts.pub, 0), { timeoutMs: opts.timeoutMs })
    await Promise.all(Array.from({ length: count }, async (_, i) => await pub.publishAsync(topicOf(i), makePayload(i, opts.size), { qos: 1, retain: true })))
    const topics = new Set<string>()
    let subscribedAt = 0
    let onAll: (() => void) | undefined
    const sub = await pool.connect(pick(opts.sub, 0), {
      timeoutMs: opts.timeoutMs,
      onMessage: (topic) => {
        if (topics.size === 0) firstMessage.add(nowMs() - subscribedAt)
        topics.add(topic)
        if (topics.size === count) onAll?.()
      }
    })
    subscribedAt = nowMs()
    const done = within<number>(opts.timeoutMs, resolve => { onAll = () => resolve(nowMs()) })
    await sub.subscribeAsync(`${base}/#`, { qos: opts.qos })
    const finished = await done
    received = topics.size
    if (finished !== undefined) all.add(finished - subscribedAt)
    await Promise.all(Array.from({ length: count }, async (_, i) => await pub.publishAsync(topicOf(i), Buffer.alloc(0), { qos: 1, retain: true })))
  } finally {
    await pool.closeAll()
  }
  return eventResult('retained', opts, (nowMs() - started) / 1000, { first_message: firstMessage, all_messages: all }, {
    retained: count,
    received,
    lost: count - received
  })
}
