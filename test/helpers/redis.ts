/**
 * The Redis Cluster tests run against: the one `npm test` started (REDIS_CLUSTER_NODES),
 * or, when a test file runs on its own outside CI, one started for that file.
 * Isolation is by key prefix, never FLUSHALL.
 */
import { randomUUID } from 'node:crypto'
import { Cluster } from 'ioredis'
import { createKeySpace, type KeySpace } from '../../src/redis/keys.js'
import { Scripts } from '../../src/redis/scripts.js'
import { clusterNodesFromEnv, startRedisCluster } from '../support/redis-cluster.js'

export interface TestRedis {
  /** host:port seeds, as SLOTMQ_REDIS takes them. */
  seeds: string[]
  stop: () => Promise<void>
}

export async function useRedisCluster (): Promise<TestRedis> {
  const fromEnv = clusterNodesFromEnv()
  if (fromEnv !== undefined) return { seeds: fromEnv.map(n => `${n.host}:${n.port}`), stop: async () => {} }
  if (process.env.CI !== undefined) throw new Error('REDIS_CLUSTER_NODES is not set: in CI the cluster must be started by npm test')
  const cluster = await startRedisCluster()
  return { seeds: cluster.nodes.map(n => `${n.host}:${n.port}`), stop: cluster.stop }
}

/** A key prefix no other test uses. */
export function uniquePrefix (): string {
  return `t-${randomUUID().slice(0, 8)}:`
}

/** A plain ioredis Cluster client for assertions on what is stored. */
export function clusterClient (seeds: string[]): Cluster {
  return new Cluster(seeds.map(s => {
    const i = s.lastIndexOf(':')
    return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
  }), { scaleReads: 'master' })
}

/** A Cluster client with the script registry under a fresh prefix, for script tests. */
export function scriptsOn (seeds: string[]): { redis: Cluster, keys: KeySpace, scripts: Scripts } {
  const redis = clusterClient(seeds)
  const keys = createKeySpace(uniquePrefix())
  return { redis, keys, scripts: new Scripts(redis, keys) }
}
