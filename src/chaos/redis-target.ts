/**
 * The Redis the nodes of a chaos run use: a Redis Cluster started here from the
 * redis-server binary (3 primaries + 3 replicas on free loopback ports), or the one the
 * user named with --redis. Only servers started here are ever killed; a failover by
 * command (CLUSTER FAILOVER) works on either.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { BrokerError, ERR } from '../errors.js'
import { startRedisCluster, type RedisCluster } from '../bench/local-redis.js'
import { own, signalChild } from './owned.js'
import { clusterWhole, parseEndpoint, readShards, shardOf, withNode, type Endpoint } from './redis-shards.js'
import { waitFor } from './wait.js'

export interface RedisTarget {
  seeds: Endpoint[]
  /** A Redis Cluster (the Redis fault scenarios need one). */
  cluster: boolean
  primaries: number
  /** Started here: its redis-server processes may be killed and restarted. */
  local: RedisCluster | undefined
  /** Process ids of the redis-servers this run started (also those it restarted). */
  ownedPids: Set<number>
  /** Servers restarted after a kill, stopped before the cluster itself. */
  restarted: ChildProcess[]
  /** Servers killed and not yet restarted. */
  killed: KilledServer[]
}

export interface KilledServer { port: number, dir: string, configFile: string, nodeTimeoutMs: string }

export async function openRedisTarget (seeds: string[] | undefined): Promise<RedisTarget> {
  if (seeds === undefined) {
    const local = await startRedisCluster()
    return { seeds: local.nodes, cluster: true, primaries: 3, local, ownedPids: new Set(local.pids), restarted: [], killed: [] }
  }
  const endpoints = seeds.map(parseEndpoint)
  let mode: string | undefined
  for (const seed of endpoints) {
    mode = await withNode(seed, async r => /redis_mode:(\w+)/.exec(await r.info('server'))?.[1]).catch(() => undefined)
    if (mode !== undefined) break
  }
  if (mode === undefined) throw new BrokerError(ERR.BENCH, `no Redis seed answered: ${seeds.join(',')}`)
  const cluster = mode === 'cluster'
  const primaries = cluster ? (await readShards(endpoints)).length : 1
  return { seeds: endpoints, cluster, primaries, local: undefined, ownedPids: new Set(), restarted: [], killed: [] }
}

export async function closeRedisTarget (target: RedisTarget): Promise<void> {
  await Promise.all(target.restarted.map(async child => await signalChild(child, 'SIGTERM')))
  await target.local?.stop()
}

/** Every primary has a replica in sync (what a failover needs), all slots served. */
export async function redisWhole (target: RedisTarget): Promise<boolean> {
  return await clusterWhole(target.seeds, target.primaries, true)
}

/**
 * kill -9 of the primary serving `slot`, when this run started it; waits (bounded)
 * until a replica serves the slot. Returns the killed port and the promotion time (ms,
 * undefined when no replica took over in time).
 */
export async function killPrimaryOf (target: RedisTarget, slot: number, timeoutMs: number): Promise<{ port: number, promotedMs: number | undefined }> {
  const { primary } = await shardOf(target.seeds, slot)
  const facts = await withNode(primary, async r => {
    const pid = Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1])
    const get = async (name: string): Promise<string> => ((await r.config('GET', name)) as string[])[1] ?? ''
    return { pid, dir: await get('dir'), configFile: await get('cluster-config-file'), nodeTimeoutMs: await get('cluster-node-timeout') }
  })
  if (!target.ownedPids.has(facts.pid)) throw new BrokerError(ERR.BENCH, `the primary on port ${primary.port} (pid ${facts.pid}) was not started by this run: not killing it`)
  process.kill(facts.pid, 'SIGKILL')
  target.ownedPids.delete(facts.pid)
  target.killed.push({ port: primary.port, dir: facts.dir, configFile: facts.configFile, nodeTimeoutMs: facts.nodeTimeoutMs })
  const promotedMs = await waitFor(async () => (await shardOf(target.seeds, slot)).primary.port !== primary.port, timeoutMs, 50)
  return { port: primary.port, promotedMs }
}

/**
 * CLUSTER FAILOVER on an in-sync replica of the primary serving `slot`; waits (bounded)
 * until it serves the slot. Returns the promotion time (ms), undefined on timeout.
 */
export async function failoverPrimaryOf (target: RedisTarget, slot: number, timeoutMs: number): Promise<{ port: number, promotedMs: number | undefined }> {
  const shard = await shardOf(target.seeds, slot)
  const replica = shard.replicas[0]
  if (replica === undefined) throw new BrokerError(ERR.BENCH, `the primary on port ${shard.primary.port} has no replica to fail over to`)
  await withNode(replica, async r => await r.cluster('FAILOVER'))
  const promotedMs = await waitFor(async () => (await shardOf(target.seeds, slot)).primary.port === replica.port, timeoutMs, 50)
  return { port: shard.primary.port, promotedMs }
}

/**
 * Starts every killed server again, on its port with its cluster config file: it rejoins
 * as a replica of the primary that took its slots. Waits (bounded) until the cluster is
 * whole again; returns whether it is.
 */
export async function restartKilled (target: RedisTarget, timeoutMs: number): Promise<boolean> {
  for (const k of target.killed.splice(0)) {
    const child = spawn('redis-server', [
      '--port', String(k.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', k.configFile, '--cluster-node-timeout', k.nodeTimeoutMs, '--dir', k.dir, '--daemonize', 'no'
    ], { stdio: 'ignore' })
    own(child)
    target.restarted.push(child)
    if (child.pid !== undefined) target.ownedPids.add(child.pid)
  }
  return await waitFor(async () => await redisWhole(target), timeoutMs, 200) !== undefined
}
