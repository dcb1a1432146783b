/**
 * conn: a connection storm. Opens --clients connections (round-robin over --pub and --sub
 * endpoints), at most 50 connecting at once, holds them all, then closes them. Measured:
 * connects per second, CONNACK latency, failures, and, with --metrics, the brokers'
 * resident memory before and after (process_resident_memory_bytes).
 */
import { ClientPool, pick, runId } from '../clients.js'
import { nowMs } from '../payload.js'
import type { BenchOptions, BenchResult } from '../types.js'
import { eventResult, storm, Timings } from './common.js'

const CONCURRENCY = 50

export async function conn (opts: BenchOptions & { metrics?: string[] }): Promise<BenchResult> {
  const total = opts.clients ?? 1000
  const endpoints = [...new Set([...opts.pub, ...opts.sub])]
  const pool = new ClientPool()
  const id = runId()
  const connack = new Timings()
  const rssBefore = await brokerRssMb(opts.metrics)
  const started = nowMs()
  try {
    const failures = await storm(total, CONCURRENCY, opts, 'connections', async (i) => {
      const t0 = nowMs()
      await pool.connect(pick(endpoints, i), { clientId: `bench-${id}-c${i}`, clean: opts.clean, timeoutMs: opts.timeoutMs })
      connack.add(nowMs() - t0)
    })
    const elapsedS = (nowMs() - started) / 1000
    const rssAfter = await brokerRssMb(opts.metrics)
    return eventResult('conn', opts, elapsedS, { connack }, {
      connections: total - failures,
      failures,
      connects_per_s: Math.round((total - failures) / elapsedS),
      ...(rssBefore === undefined ? {} : { broker_rss_mb_before: rssBefore }),
      ...(rssAfter === undefined ? {} : { broker_rss_mb_after: rssAfter })
    })
  } finally {
    await pool.closeAll()
  }
}

/** Sum of process_resident_memory_bytes over the given /metrics URLs, in MiB. */
async function brokerRssMb (urls: string[] | undefined): Promise<number | undefined> {
  if (urls === undefined || urls.length === 0) return undefined
  let bytes = 0
  for (const url of urls) {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text()
    bytes += Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? 0)
  }
  return Math.round(bytes / 1024 / 1024)
}
