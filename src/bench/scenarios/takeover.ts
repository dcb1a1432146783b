/**
 * takeover: a persistent session moving between nodes. Each iteration: a client (clean
 * session 0) subscribes at QoS 1 on the first --pub endpoint and disconnects; 10 QoS 1
 * messages are published while it is offline; the same client id connects on the first
 * --sub endpoint (CONNACK time, Session Present, queued messages received); then it
 * connects again on the first --pub endpoint while still connected on --sub (CONNACK
 * time, and time until the broker closes the older connection).
 */
import { ClientPool, pick, runId } from '../clients.js'
import { nowMs } from '../payload.js'
import type { BenchOptions, BenchResult } from '../types.js'
import { eventResult, Timings, within } from './common.js'

const QUEUED = 10

export async function takeover (opts: BenchOptions): Promise<BenchResult> {
  const iterations = opts.clients ?? 20
  const a = pick(opts.pub, 0)
  const b = pick(opts.sub, 0)
  const pool = new ClientPool()
  const id = runId()
  const started = nowMs()
  const timings = { connack_moved: new Timings(), connack_takeover: new Timings(), old_connection_closed: new Timings() }
  let sessionPresent = 0
  let lost = 0
  let notClosed = 0
  try {
    const publisher = await pool.connect(a, { clientId: `bench-${id}-p`, timeoutMs: opts.timeoutMs })
    for (let i = 0; i < iterations; i++) {
      const clientId = `bench-${id}-t${i}`
      const topic = `bench/${id}/takeover/${i}`
      const first = await pool.connect(a, { clientId, clean: false, timeoutMs: opts.timeoutMs })
      await first.subscribeAsync(topic, { qos: 1 })
      await first.endAsync()
      for (let m = 0; m < QUEUED; m++) await publisher.publishAsync(topic, String(m), { qos: 1 })

      const received = new Set<string>()
      let t0 = nowMs()
      const { client: moved, connack } = await pool.open(b, {
        clientId,
        clean: false,
        timeoutMs: opts.timeoutMs,
        onMessage: (_t, payload) => received.add(payload.toString())
      })
      timings.connack_moved.add(nowMs() - t0)
      if (connack.sessionPresent) sessionPresent++
      await within<void>(Math.min(opts.timeoutMs, 2000), resolve => {
        const check = (): void => { if (received.size >= QUEUED) resolve() }
        moved.on('message', check)
        check()
      })
      lost += QUEUED - received.size

      const closed = within<number>(opts.timeoutMs, resolve => moved.once('close', () => resolve(nowMs())))
      t0 = nowMs()
      const again = await pool.connect(a, { clientId, clean: true, timeoutMs: opts.timeoutMs })
      timings.connack_takeover.add(nowMs() - t0)
      const closedAt = await closed
      if (closedAt === undefined) notClosed++
      else timings.old_connection_closed.add(Math.max(0, closedAt - t0))
      await again.endAsync()
      opts.progress?.({ elapsedS: (nowMs() - started) / 1000, sentPerS: 0, receivedPerS: 0, steps: { done: i + 1, total: iterations, unit: 'takeovers' } })
    }
  } finally {
    await pool.closeAll()
  }
  return eventResult('takeover', opts, (nowMs() - started) / 1000, timings, {
    iterations,
    session_present: sessionPresent,
    queued_per_iteration: QUEUED,
    lost,
    old_connection_not_closed: notClosed
  })
}
