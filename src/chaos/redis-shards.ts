/**
 * The shape of a Redis Cluster as its nodes report it (CLUSTER NODES): which primary
 * serves a slot, its replicas, whether they are in sync. Read-only.
 */
import type { Redis } from 'ioredis'
import { withRedis } from '../bench/local-redis.js'

export interface Endpoint { host: string, port: number }
export interface RedisNode extends Endpoint { id: string }
export interface Shard { primary: RedisNode, replicas: RedisNode[], slots: Array<[number, number]> }

/** Runs `fn` with a short-lived connection to one Redis server (no retries). */
export async function withNode<T> (at: Endpoint, fn: (r: Redis) => Promise<T>): Promise<T> {
  return await withRedis(at.port, fn, at.host)
}

export function parseEndpoint (seed: string): Endpoint {
  const i = seed.lastIndexOf(':')
  return { host: seed.slice(0, i), port: Number(seed.slice(i + 1)) }
}

function nodeOf (fields: string[]): RedisNode {
  const address = (fields[1] ?? '').split('@')[0] ?? ''
  return { id: fields[0] ?? '', ...parseEndpoint(address) }
}

/** The shards as the first answering seed sees them; failed nodes are left out. */
export async function readShards (seeds: readonly Endpoint[]): Promise<Shard[]> {
  let lastError: unknown
  for (const seed of seeds) {
    try {
      const text = await withNode(seed, async r => await r.cluster('NODES') as string)
      const lines = text.trim().split('\n').map(l => l.trim().split(' '))
      const alive = lines.filter(f => !(f[2] ?? '').includes('fail') && !(f[2] ?? '').includes('noaddr'))
      return alive.filter(f => (f[2] ?? '').includes('master') && f.length > 8).map(f => ({
        primary: nodeOf(f),
        replicas: alive.filter(g => g[3] === f[0]).map(nodeOf),
        slots: f.slice(8).filter(s => !s.startsWith('[')).map(s => {
          const [a, b] = s.split('-')
          return [Number(a), Number(b ?? a)] as [number, number]
        })
      }))
    } catch (err) {
      lastError = err
    }
  }
  throw new Error(`no Redis seed answered CLUSTER NODES: ${(lastError as Error | undefined)?.message ?? 'no seeds'}`)
}

export async function shardOf (seeds: readonly Endpoint[], slot: number): Promise<Shard> {
  const shard = (await readShards(seeds)).find(s => s.slots.some(([a, b]) => slot >= a && slot <= b))
  if (shard === undefined) throw new Error(`no primary serves slot ${slot}`)
  return shard
}

/** The hash slot of a key, as Redis computes it. */
export async function keySlot (seeds: readonly Endpoint[], key: string): Promise<number> {
  for (const seed of seeds) {
    try {
      return await withNode(seed, async r => await r.cluster('KEYSLOT', key) as number)
    } catch {}
  }
  throw new Error('no Redis seed answered CLUSTER KEYSLOT')
}

/** A replica whose replication link is up and not syncing. */
export async function inSync (replica: Endpoint): Promise<boolean> {
  const info = await withNode(replica, async r => await r.info('replication'))
  return /master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info)
}

/**
 * The cluster is whole: every seed-visible node says cluster_state:ok with all slots
 * served, `primaries` primaries, and (with `replicas`) each with a replica in sync.
 */
export async function clusterWhole (seeds: readonly Endpoint[], primaries: number, replicas: boolean): Promise<boolean> {
  const shards = await readShards(seeds)
  if (shards.length !== primaries) return false
  for (const shard of shards) {
    const nodes = [shard.primary, ...shard.replicas]
    for (const node of nodes) {
      const info = await withNode(node, async r => await r.cluster('INFO') as string)
      if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false
    }
    if (replicas) {
      let synced = false
      for (const replica of shard.replicas) if (await inSync(replica)) synced = true
      if (!synced) return false
    }
  }
  return true
}
