/**
 * The Redis Cluster tests run against: the one `npm test` started (REDIS_CLUSTER_NODES),
 * or, when a test file runs on its own outside CI, one started for that file.
 * Isolation is by key prefix, never FLUSHALL.
 */
import { randomUUID } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
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

/**
 * Connections to every primary of the cluster, to make each hold every write for a while
 * (CLIENT PAUSE WRITE: scripts, SPUBLISH) and let go again.
 */
export async function primariesOf (seeds: string[]): Promise<{ pause: (ms?: number) => Promise<void>, unpause: () => Promise<void>, close: () => Promise<void> }> {
  const servers = seeds.map(seed => new Redis({ host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) }))
  const roles = await Promise.all(servers.map(async r => (await r.call('ROLE') as [string])[0]))
  const primaries = servers.filter((_, i) => roles[i] === 'master')
  await Promise.all(servers.filter((_, i) => roles[i] !== 'master').map(async r => await r.quit()))
  if (primaries.length === 0) throw new Error(`no primary among the seeds, roles: ${roles.join(',')}`)
  const unpause = async (): Promise<void> => { await Promise.all(primaries.map(async p => await p.call('CLIENT', 'UNPAUSE'))) }
  return {
    pause: async (ms = 5000) => { await Promise.all(primaries.map(async p => await p.call('CLIENT', 'PAUSE', String(ms), 'WRITE'))) },
    unpause,
    close: async () => {
      await unpause().catch(() => {})
      await Promise.all(primaries.map(async p => await p.quit()))
    }
  }
}
