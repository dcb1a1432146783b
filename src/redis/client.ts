/**
 * The one place where Redis connections are made and their options live.
 *
 * `createRedis` reads SLOTMQ_REDIS seeds, asks the first reachable seed what it is
 * (cluster or single server, version, whether SPUBLISH exists), and opens two clients:
 * `cmd` for commands and scripts, `sub` for this node's inbox subscription. The probe's
 * choice is logged and shown on /ready.
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { Cluster, Redis } from 'ioredis'
import type { Config } from '../config.js'
import { BrokerError, ERR } from '../errors.js'
import type { Logger } from '../logger.js'
import { probeSeeds, REDIS_STARTUP_TIMEOUT_MS, type Seed } from './probe.js'

export type RedisClient = Cluster | Redis

export interface RedisCapabilities {
  readonly mode: 'cluster' | 'single'
  /** Server version of the probed seed, e.g. "7.0.15". */
  readonly version: string
  /** SPUBLISH/SSUBSCRIBE (Redis >= 7); false means classic PUBLISH/SUBSCRIBE (single server only). */
  readonly sharded: boolean
}

export interface RedisConnections {
  readonly cmd: RedisClient
  readonly sub: RedisClient
  readonly capabilities: RedisCapabilities
  /** True while the command connection is ready. */
  readonly ready: () => boolean
  /**
   * Publishes a frame on a channel: SPUBLISH, or PUBLISH where the server lacks it (one
   * server only). Resolves with the number of subscribers that received it: 0 means
   * nobody listens on that inbox (its node is dead, or resubscribing).
   */
  send: (channel: string, frame: Buffer) => Promise<number>
  /** Told the round trip of every `send`, in seconds (the metrics). */
  observeSend: ((seconds: number) => void) | undefined
  /** Subscribes the subscriber client to a channel (SSUBSCRIBE or SUBSCRIBE). */
  listen: (channel: string) => Promise<void>
  unlisten: (channel: string) => Promise<void>
  /** Called with every frame that arrives on a listened channel. */
  onFrame: (handler: (channel: string, frame: Buffer) => void) => void
  close: () => Promise<void>
}

export function parseSeed (seed: string): Seed {
  if (/^rediss?:\/\//.test(seed)) {
    const url = new URL(seed)
    const parsed: Seed = {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? 6379 : Number(url.port),
      tls: url.protocol === 'rediss:'
    }
    if (url.username !== '') parsed.username = decodeURIComponent(url.username)
    if (url.password !== '') parsed.password = decodeURIComponent(url.password)
    return parsed
  }
  const i = seed.lastIndexOf(':')
  return { host: seed.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(seed.slice(i + 1)), tls: false }
}

export async function createRedis (config: Config, deps: { log: Logger, memberName: string }): Promise<RedisConnections> {
  const log = deps.log.child({ module: 'redis' })
  const seeds = config.redis.seeds.map(parseSeed)
  const first = seeds[0]
  if (first === undefined) throw new BrokerError(ERR.REDIS_MODE, 'no Redis seeds configured')
  const auth = {
    username: first.username ?? config.redis.username,
    password: first.password ?? config.redis.password
  }
  const base = {
    ...(auth.username === undefined ? {} : { username: auth.username }),
    ...(auth.password === undefined ? {} : { password: auth.password }),
    ...(first.tls ? { tls: tlsOptions(first.host, config.redis.tlsCaFile) } : {}),
    connectionName: `slotmq:${deps.memberName}`,
    enableAutoPipelining: true
  }

  const startedAt = Date.now()
  const probed = await probeSeeds(seeds, base, REDIS_STARTUP_TIMEOUT_MS)
  const mode = config.redis.mode === 'auto' ? probed.mode : config.redis.mode
  if (mode === 'cluster' && !probed.sharded) {
    throw new BrokerError(ERR.REDIS_MODE, `Redis Cluster ${probed.version} has no SPUBLISH: slotmq needs Redis 7 or later in cluster mode`)
  }
  const capabilities: RedisCapabilities = { mode, version: probed.version, sharded: probed.sharded }

  let cmd: RedisClient
  let sub: RedisClient
  if (mode === 'cluster') {
    const options = {
      redisOptions: { ...base, enableAutoPipelining: false },
      scaleReads: 'master' as const,
      // Not autopipelined on a cluster: ioredis 6.0 batches per node and handles MOVED per
      // batch, so during a failover or slot move the redirected commands fail with MOVED
      // instead of being resent (redis/ioredis#2075, open); slotmq's hot path batches its
      // own frames per tick anyway (measured: no throughput difference here).
      enableAutoPipelining: false,
      slotsRefreshInterval: 5000,
      // A failover takes cluster-node-timeout plus an election (seconds); commands wait
      // for it instead of failing: 100 redirections x 300 ms is 30 s of budget.
      maxRedirections: 100,
      retryDelayOnFailover: 300,
      retryDelayOnClusterDown: 300,
      retryDelayOnTryAgain: 300,
      // TLS endpoints announce nodes by name; resolving them first would break SNI and
      // certificate checks (ElastiCache, MemoryDB).
      ...(first.tls ? { dnsLookup: (address: string, done: (err: null, address: string) => void) => done(null, address) } : {})
    }
    const nodes = seeds.map(s => ({ host: s.host, port: s.port }))
    cmd = new Cluster(nodes, options)
    const subscriber = new Cluster(nodes, { ...options, shardedSubscribers: true })
    subscriber.on('+subscriber', () => buffersOnly(subscriber))
    sub = subscriber
  } else {
    const single = { ...base, host: first.host, port: first.port }
    cmd = new Redis(single)
    sub = new Redis({ ...single, enableAutoPipelining: false })
  }
  watch(cmd, log, 'commands')
  watch(sub, log, 'subscriber')
  try {
    await whenReady([cmd, sub], mode, REDIS_STARTUP_TIMEOUT_MS - (Date.now() - startedAt))
  } catch (err) {
    await Promise.all([quit(cmd), quit(sub)])
    throw err
  }
  log.info({ mode, version: probed.version, sharded: probed.sharded, seeds: seeds.length }, 'redis probed')

  let closed = false
  const sharded = capabilities.sharded
  const publish = async (channel: string, frame: Buffer): Promise<number> => Number(sharded ? await cmd.spublish(channel, frame) : await cmd.publish(channel, frame))
  const connections: RedisConnections = {
    cmd,
    sub,
    capabilities,
    ready: () => !closed && cmd.status === 'ready',
    observeSend: undefined,
    send: async (channel, frame) => {
      const observe = connections.observeSend
      if (observe === undefined) return await publish(channel, frame)
      const started = process.hrtime.bigint()
      try {
        return await publish(channel, frame)
      } finally {
        observe(Number(process.hrtime.bigint() - started) / 1e9)
      }
    },
    listen: async (channel) => {
      if (sharded) await sub.ssubscribe(channel)
      else await sub.subscribe(channel)
    },
    unlisten: async (channel) => {
      if (sharded) await sub.sunsubscribe(channel)
      else await sub.unsubscribe(channel)
    },
    onFrame: (handler) => {
      sub.on(sharded ? 'smessageBuffer' : 'messageBuffer', (channel: Buffer, frame: Buffer) => handler(channel.toString(), frame))
    },
    close: async () => {
      if (closed) return
      closed = true
      await Promise.all([quit(cmd), quit(sub)])
    }
  }
  return connections
}

/** The parts of ioredis 6.0's sharded subscriber group that `buffersOnly` touches. */
interface ShardedGroup { shardedSubscribers?: Map<string, { instance?: Redis, messageListeners?: Map<string, (...args: unknown[]) => void> }> }

/**
 * ioredis 6.0 listens for `smessage` on every sharded subscriber connection, so each frame
 * received was also decoded as a UTF-8 string that nobody reads (measured: about 7 % of a
 * receiving node's CPU, and a string the size of the frame for the garbage collector).
 * slotmq reads `smessageBuffer` only, so that listener is removed from each connection the
 * group opens. If ioredis's internals ever differ, this does nothing.
 */
function buffersOnly (sub: Cluster): void {
  const group = (sub as unknown as { shardedSubscribers?: ShardedGroup }).shardedSubscribers
  for (const s of group?.shardedSubscribers?.values() ?? []) {
    const listener = s.messageListeners?.get('smessage')
    if (listener !== undefined) s.instance?.removeListener('smessage', listener)
  }
}

/**
 * TLS options for rediss:// seeds: SNI with the seed's host name (never an IP address,
 * which RFC 6066 does not allow), and the CAs of redis.tlsCaFile instead of the system
 * ones when it is set (Memorystore's per-instance CA, a self-hosted CA).
 */
function tlsOptions (host: string, caFile: string | undefined): { servername?: string, ca?: Buffer } {
  let ca: Buffer | undefined
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile)
    } catch (err) {
      throw new BrokerError(ERR.CONFIG_FILE, `cannot read redis.tlsCaFile ${caFile}: ${(err as Error).message}`, { cause: err })
    }
  }
  return { ...(isIP(host) === 0 ? { servername: host } : {}), ...(ca === undefined ? {} : { ca }) }
}

async function quit (client: RedisClient): Promise<void> {
  try {
    await client.quit()
  } catch {
    client.disconnect()
  }
}

/** Logs connection state transitions, not every failed attempt. */
function watch (client: RedisClient, log: Logger, role: string): void {
  let lost = false
  client.on('error', (err: Error) => {
    if (!lost) log.warn({ role, err: { message: err.message } }, 'redis connection trouble')
    lost = true
  })
  client.on('ready', () => {
    if (lost) log.info({ role }, 'redis connection recovered')
    lost = false
  })
}

/**
 * Waits until both clients are ready (a cluster: slots loaded and connected), within what
 * is left of the start-up deadline; the clients' last error is the reason otherwise.
 */
async function whenReady (clients: RedisClient[], mode: string, remainingMs: number): Promise<void> {
  let lastError: Error | undefined
  const onError = (err: Error): void => { lastError = err }
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.all(clients.map(async c => {
        c.on('error', onError)
        // Not events.once: it rejects on the first 'error', and ioredis retries after those.
        if (c.status !== 'ready') await new Promise<void>(resolve => c.once('ready', () => resolve()))
      })),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          const why = lastError === undefined ? '' : `: ${lastError.message}`
          reject(new BrokerError(ERR.REDIS_UNREACHABLE, `Redis (${mode}) not ready within ${REDIS_STARTUP_TIMEOUT_MS / 1000} s of start-up${why}`))
        }, Math.max(0, remainingMs))
      })
    ])
  } finally {
    clearTimeout(timer)
    for (const c of clients) c.off('error', onError)
  }
}
