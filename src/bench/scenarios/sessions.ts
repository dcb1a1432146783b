/**
 * sessions: what persistent sessions cost in Redis. Opens --clients persistent sessions
 * (clean session 0, round-robin over --pub and --sub endpoints, at most 50 connecting at
 * once), each subscribing to 10 QoS 1 topic filters, and disconnects them, so they stay
 * parked with an empty queue. With --redis (the seeds of the Redis the brokers use), the
 * used_memory of every primary is summed before and after: bytes per session, and the
 * Redis memory 10 million such sessions would need.
 */
import { ClientPool, pick, runId } from '../clients.js'
import { nowMs } from '../payload.js'
import { RedisProbe } from '../redis-cost.js'
import type { BenchOptions, BenchResult } from '../types.js'
import { eventResult, storm, Timings } from './common.js'

const CONCURRENCY = 50
const FILTERS = 10

export async function sessions (opts: BenchOptions): Promise<BenchResult> {
  const total = opts.clients ?? 1000
  const endpoints = [...new Set([...opts.pub, ...opts.sub])]
  const id = runId()
  const setup = new Timings()
  const probe = opts.redis === undefined ? undefined : await RedisProbe.open(opts.redis, opts.timeoutMs)
  try {
    const before = await probe?.usedMemory()
    const started = nowMs()
    const failures = await storm(total, CONCURRENCY, opts, 'sessions', async (i) => {
      const pool = new ClientPool()
      const t0 = nowMs()
      try {
        const client = await pool.connect(pick(endpoints, i), { clientId: `bench-${id}-s${i}`, clean: false, timeoutMs: opts.timeoutMs })
        await client.subscribeAsync(Array.from({ length: FILTERS }, (_, f) => `bench/${id}/s${i}/f${f}/+`), { qos: 1 })
        setup.add(nowMs() - t0)
        await client.endAsync()
      } catch (err) {
        await pool.closeAll()
        throw err
      }
    })
    const elapsedS = (nowMs() - started) / 1000
    // Parking is asynchronous on the broker side: give the last disconnects a moment.
    await new Promise(resolve => setTimeout(resolve, 500))
    const after = await probe?.usedMemory()
    const created = total - failures
    const perSession = before === undefined || after === undefined || created === 0 ? undefined : Math.round((after - before) / created)
    return eventResult('sessions', opts, elapsedS, { connect_subscribe: setup }, {
      sessions: created,
      failures,
      subscriptions_per_session: FILTERS,
      ...(perSession === undefined
        ? {}
        : {
            redis_bytes_per_session: perSession,
            redis_gib_for_10m_sessions: Math.round(perSession * 10_000_000 / 1024 ** 3 * 10) / 10
          })
    })
  } finally {
    probe?.close()
  }
}
