/**
 * What a benchmark run costs the brokers' Redis: `INFO commandstats` of every primary,
 * read before and after the publishing phase, gives the commands Redis executed in
 * between; divided by the messages the subscribers received, Redis commands per
 * delivered message. `INFO memory` of the same primaries gives the sessions scenario
 * its bytes per session.
 *
 * Primaries are found from the seeds: CLUSTER NODES on the first reachable seed for a
 * Redis Cluster, ROLE on every seed for a single Redis (or a primary and its replicas).
 * Replicas are never read: they execute the primaries' writes again, which costs no
 * broker anything more.
 *
 * What the count includes: every command of every client of those servers (the brokers,
 * and anything else that uses the same Redis), replicas' REPLCONF acknowledgements
 * (about one a second per replica), and the commands that Lua scripts call, each counted
 * as well as the EVALSHA that ran it. What it excludes: the INFO calls of the probe
 * itself. INFO is counted once it has executed, so a reading does not include itself
 * and includes every earlier one; a probe that counts its own readings can subtract them.
 */
import { Redis } from 'ioredis'
import { BrokerError, ERR } from '../errors.js'

/** Command calls on the primaries, summed over all of them. */
export interface CommandCounts {
  calls: number
  /** EVAL, EVALSHA, FCALL and their read-only forms. */
  scriptCalls: number
}

/** The Redis commands of one run's publishing phase. */
export interface RedisCost {
  /** Primaries read. */
  primaries: number
  /** Calls of every command during the phase, the probe's own INFO calls excluded. */
  commands: number
  /** EVAL, EVALSHA, FCALL (and read-only forms) among `commands`. */
  scriptCalls: number
  /** Messages the subscribers received in the phase (duplicates not counted). */
  messages: number
}

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'])

/** Sums `calls=` over the lines of an `INFO commandstats` reply. */
export function parseCommandStats (info: string): CommandCounts {
  let calls = 0
  let scriptCalls = 0
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const n = Number(m[2])
    calls += n
    if (SCRIPT_COMMANDS.has((m[1] ?? '').toLowerCase())) scriptCalls += n
  }
  return { calls, scriptCalls }
}

/** Commands per delivered message, and script calls per delivered message; undefined when nothing was delivered. */
export function perMessage (cost: RedisCost): { commands: number, scriptCalls: number } | undefined {
  if (cost.messages === 0) return undefined
  return { commands: cost.commands / cost.messages, scriptCalls: cost.scriptCalls / cost.messages }
}

interface Primary { address: string, redis: Redis, infoCalls: number }

/** Connects; a refused or timed-out connection fails with the socket's error, not ioredis' "Connection is closed". */
async function connect (redis: Redis): Promise<void> {
  let socketError: Error | undefined
  const keep = (err: Error): void => { socketError ??= err }
  redis.on('error', keep)
  try {
    await redis.connect()
  } catch (err) {
    throw socketError ?? err
  } finally {
    redis.off('error', keep)
  }
}

function open (address: string, timeoutMs: number): Redis {
  const url = new URL(address.includes('://') ? address : `redis://${address}`)
  const redis = new Redis({
    host: url.hostname,
    port: Number(url.port === '' ? 6379 : url.port),
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
    ...(url.protocol === 'rediss:' ? { tls: { servername: url.hostname } } : {}),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null
  })
  redis.on('error', () => {})
  return redis
}

/** host:port of the primaries in a CLUSTER NODES reply; `seedHost` stands in for an empty address. */
export function primariesFromClusterNodes (nodes: string, seedHost: string): string[] {
  return nodes.split('\n').flatMap(line => {
    const [, address = '', flags = ''] = line.split(' ')
    const f = flags.split(',')
    if (!f.includes('master') || f.includes('fail') || f.includes('noaddr') || f.includes('handshake')) return []
    const hostPort = address.split('@')[0] ?? ''
    return [hostPort.startsWith(':') ? `${seedHost}${hostPort}` : hostPort]
  })
}

/**
 * Connections to every primary behind `seeds`, kept open from the first reading to the
 * last so that nothing but the readings themselves is sent between them.
 */
export class RedisProbe {
  readonly #primaries: Primary[]

  private constructor (primaries: Primary[]) {
    this.#primaries = primaries
  }

  static async open (seeds: readonly string[], timeoutMs: number): Promise<RedisProbe> {
    const addresses = await discoverPrimaries(seeds, timeoutMs)
    const primaries: Primary[] = []
    try {
      for (const address of addresses) {
        const redis = open(withScheme(address, seeds[0] ?? ''), timeoutMs)
        primaries.push({ address, redis, infoCalls: 0 })
        await connect(redis)
      }
    } catch (err) {
      for (const p of primaries) p.redis.disconnect()
      throw new BrokerError(ERR.BENCH, `cannot connect to Redis primary ${primaries.at(-1)?.address ?? ''}: ${(err as Error).message}`, { cause: err })
    }
    return new RedisProbe(primaries)
  }

  get primaries (): number {
    return this.#primaries.length
  }

  /** Command calls so far on all primaries, less every earlier reading of this probe. */
  async commandCounts (): Promise<CommandCounts> {
    const counts = await Promise.all(this.#primaries.map(async p => {
      const own = p.infoCalls++
      const c = parseCommandStats(await this.#info(p, 'commandstats'))
      return { calls: c.calls - own, scriptCalls: c.scriptCalls }
    }))
    return counts.reduce((sum, c) => ({ calls: sum.calls + c.calls, scriptCalls: sum.scriptCalls + c.scriptCalls }), { calls: 0, scriptCalls: 0 })
  }

  /** Sum of used_memory over the primaries, in bytes. */
  async usedMemory (): Promise<number> {
    const bytes = await Promise.all(this.#primaries.map(async p => {
      p.infoCalls++
      return Number(/^used_memory:(\d+)/m.exec(await this.#info(p, 'memory'))?.[1] ?? 0)
    }))
    return bytes.reduce((a, b) => a + b, 0)
  }

  async #info (p: Primary, section: string): Promise<string> {
    try {
      return await p.redis.info(section)
    } catch (err) {
      throw new BrokerError(ERR.BENCH, `cannot read INFO ${section} from Redis ${p.address}: ${(err as Error).message}`, { cause: err })
    }
  }

  close (): void {
    for (const p of this.#primaries) p.redis.disconnect()
  }
}

/** The cost of the phase between two readings of one probe. */
export function costBetween (before: CommandCounts, after: CommandCounts, primaries: number, messages: number): RedisCost {
  return { primaries, commands: after.calls - before.calls, scriptCalls: after.scriptCalls - before.scriptCalls, messages }
}

/** Keeps the seed's scheme and credentials (rediss://user:pass@) for a discovered host:port. */
function withScheme (hostPort: string, seed: string): string {
  if (!seed.includes('://')) return hostPort
  const url = new URL(seed)
  const i = hostPort.lastIndexOf(':')
  url.hostname = hostPort.slice(0, i)
  url.port = hostPort.slice(i + 1)
  return url.toString()
}

function hostPortOf (seed: string): string {
  const url = new URL(seed.includes('://') ? seed : `redis://${seed}`)
  return `${url.hostname}:${url.port === '' ? '6379' : url.port}`
}

async function discoverPrimaries (seeds: readonly string[], timeoutMs: number): Promise<string[]> {
  if (seeds.length === 0) throw new BrokerError(ERR.USAGE, '--redis: no seeds given')
  const roles: string[] = []
  let lastError: unknown
  for (const seed of seeds) {
    const redis = open(seed, timeoutMs)
    try {
      await connect(redis)
      const nodes = await redis.call('CLUSTER', 'NODES').catch(() => undefined)
      if (typeof nodes === 'string') return primariesFromClusterNodes(nodes, new URL(`redis://${hostPortOf(seed)}`).hostname)
      const role = await redis.call('ROLE') as [string, ...unknown[]]
      if (role[0] === 'master') roles.push(hostPortOf(seed))
    } catch (err) {
      lastError = err
    } finally {
      redis.disconnect()
    }
  }
  if (roles.length > 0) return roles
  const why = lastError === undefined ? 'no seed is a primary' : (lastError as Error).message
  throw new BrokerError(ERR.BENCH, `--redis ${seeds.join(',')}: ${why}`)
}
