/**
 * The start-up probe: asks the seeds what they are (cluster or single server, version,
 * SPUBLISH) under one deadline. Every seed is asked at once and the first full answer
 * wins; a seed that accepts the connection and never answers, a TLS handshake that never
 * ends, a wrong password: each ends the probe with the seed, the stage it stopped at
 * and, for a scheme mismatch, a hint (scheme-hint.ts).
 */
import { Redis } from 'ioredis'
import { BrokerError, ERR } from '../errors.js'
import { schemeHint } from './scheme-hint.js'

/** How long start-up waits for Redis: the probe, then the cluster's slots and connections. */
export const REDIS_STARTUP_TIMEOUT_MS = 10_000
/** How long the scheme hint may take after a failed probe. */
const HINT_TIMEOUT_MS = 1_000

export interface Seed { host: string, port: number, tls: boolean, username?: string, password?: string }

export interface ProbeResult {
  mode: 'cluster' | 'single'
  version: string
  sharded: boolean
  /** The seed that answered first. */
  seed: Seed
}

interface Attempt {
  seed: Seed
  stage: string
  client: Redis
  failure?: string
}

/**
 * Probes every seed within `timeoutMs`; throws ERR_REDIS_UNREACHABLE naming each seed
 * and why it failed ("no Redis seed answered: …").
 */
export async function probeSeeds (seeds: readonly Seed[], options: Record<string, unknown>, timeoutMs = REDIS_STARTUP_TIMEOUT_MS): Promise<ProbeResult> {
  const attempts: Attempt[] = seeds.map(seed => ({
    seed,
    stage: 'connecting',
    client: new Redis({
      ...options,
      host: seed.host,
      port: seed.port,
      lazyConnect: true,
      enableAutoPipelining: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      retryStrategy: () => null
    })
  }))
  let timer: NodeJS.Timeout | undefined
  try {
    const result = await new Promise<ProbeResult | undefined>((resolve) => {
      let pending = attempts.length
      timer = setTimeout(() => resolve(undefined), timeoutMs)
      for (const attempt of attempts) {
        probeOne(attempt).then(resolve, (err: unknown) => {
          attempt.failure ??= (err as Error).message
          if (--pending === 0) resolve(undefined)
        })
      }
    })
    if (result !== undefined) return result
  } finally {
    clearTimeout(timer)
    for (const a of attempts) a.client.disconnect()
  }
  const problems = await Promise.all(attempts.map(async a => {
    const why = a.failure ?? `no answer within ${timeoutMs / 1000} s (${a.stage})`
    const hint = await schemeHint(a.seed, HINT_TIMEOUT_MS)
    return `${a.seed.host}:${a.seed.port}: ${why}${hint === undefined ? '' : ` (${hint})`}`
  }))
  throw new BrokerError(ERR.REDIS_UNREACHABLE, `no Redis seed answered: ${problems.join('; ')}`, { problems })
}

async function probeOne (a: Attempt): Promise<ProbeResult> {
  let socketError: Error | undefined
  a.client.on('error', (err: Error) => { socketError = err })
  // connect() resolves after ioredis' own first command (its ready check), not the socket.
  a.client.once('connect', () => { a.stage = 'connected, waiting for the first reply' })
  try {
    await a.client.connect()
    a.stage = 'connected, waiting for INFO server'
    const server = await a.client.info('server')
    const version = /redis_version:([^\r\n]+)/.exec(server)?.[1] ?? 'unknown'
    a.stage = 'connected, waiting for INFO cluster'
    const cluster = await a.client.info('cluster').catch(() => '')
    const mode = /cluster_enabled:1/.test(cluster) ? 'cluster' : 'single'
    a.stage = 'connected, waiting for COMMAND INFO SPUBLISH'
    return { mode, version, sharded: await hasSpublish(a.client, version), seed: a.seed }
  } catch (err) {
    // ioredis reports a refused connection as "Connection is closed"; the socket error says why.
    a.failure = (socketError ?? err as Error).message
    throw err
  }
}

/** True when the server has SPUBLISH (COMMAND INFO, or the version where COMMAND is hidden). */
export async function hasSpublish (r: Redis, version: string): Promise<boolean> {
  try {
    const info = await r.call('COMMAND', 'INFO', 'SPUBLISH') as unknown[]
    return Array.isArray(info) && info[0] !== null && info[0] !== undefined
  } catch {
    // Some managed services rename or hide COMMAND: fall back to the version.
    return Number(version.split('.')[0]) >= 7
  }
}
