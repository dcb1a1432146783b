/**
 * subprop: how soon a new subscription works across nodes. For each iteration a
 * subscriber on --sub subscribes to a fresh topic; from its SUBACK on, a publisher on --pub
 * publishes every millisecond until the first message arrives. Measured: SUBACK to first
 * delivery.
 */
import { ClientPool, pick, runId } from '../clients.js'
import { nowMs } from '../payload.js'
import type { BenchOptions, BenchResult } from '../types.js'
import { eventResult, Timings, within } from './common.js'

export async function subprop (opts: BenchOptions): Promise<BenchResult> {
  const iterations = opts.clients ?? 100
  const pool = new ClientPool()
  const id = runId()
  const started = nowMs()
  const delay = new Timings()
  let timeouts = 0
  try {
    const sub = await pool.connect(pick(opts.sub, 0), { clientId: `bench-${id}-s`, timeoutMs: opts.timeoutMs })
    const pub = await pool.connect(pick(opts.pub, 0), { clientId: `bench-${id}-p`, timeoutMs: opts.timeoutMs })
    for (let i = 0; i < iterations; i++) {
      const topic = `bench/${id}/subprop/${i}`
      let first: (() => void) | undefined
      const onMessage = (t: string): void => { if (t === topic) first?.() }
      sub.on('message', onMessage)
      await sub.subscribeAsync(topic, { qos: opts.qos })
      const subackAt = nowMs()
      const timer = setInterval(() => pub.publish(topic, 'x', { qos: 0 }), 1)
      pub.publish(topic, 'x', { qos: 0 })
      const arrived = await within<number>(opts.timeoutMs, resolve => { first = () => resolve(nowMs()) })
      clearInterval(timer)
      sub.off('message', onMessage)
      if (arrived === undefined) timeouts++
      else delay.add(arrived - subackAt)
      await sub.unsubscribeAsync(topic)
      opts.progress?.({ elapsedS: (nowMs() - started) / 1000, sentPerS: 0, receivedPerS: 0, steps: { done: i + 1, total: iterations, unit: 'subscriptions' } })
    }
  } finally {
    await pool.closeAll()
  }
  return eventResult('subprop', opts, (nowMs() - started) / 1000, { suback_to_first_delivery: delay }, { iterations, timeouts })
}
