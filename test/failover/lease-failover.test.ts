/**
 * Membership survives a failure of the Redis primary that holds the leases: every renewal
 * stops for seconds, yet no live node is reaped (and so no will of a connected client is
 * published), whichever node sweeps first once the replica is promoted. On a Redis Cluster
 * of this file's own (the tests kill its processes).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import calculateSlot from 'cluster-key-slot'
import { createKeySpace } from '../../src/redis/keys.js'
import { inSync, shardOf, withNode } from '../../src/chaos/redis-shards.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix } from '../helpers/redis.js'
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js'
import { until } from '../helpers/until.js'

const LEASE_MS = 2000

describe('a failure of the leases\' primary reaps no live node', { timeout: 180_000 }, () => {
  let cluster: RedisCluster
  let topo: Topology
  const prefix = uniquePrefix()
  const keys = createKeySpace(prefix)
  const slot = calculateSlot(keys.nodes())

  before(async () => {
    cluster = await startRedisCluster()
    topo = await startNodes(3, { redis: cluster.nodes.map(n => `${n.host}:${n.port}`).join(','), 'redis-prefix': prefix, 'lease-ttl-ms': String(LEASE_MS) })
  })
  after(async () => {
    await closeAll()
    await topo?.close()
    await cluster?.stop()
  })

  /** Waits until the leases' shard has a replica in sync, applies `fault`, then checks that nobody was reaped. */
  async function survives (t: { diagnostic: (s: string) => void }, fault: (primary: { host: string, port: number }, replica: { host: string, port: number }) => Promise<void>): Promise<void> {
    const seeds = cluster.nodes
    await until('the leases\' shard has a replica in sync', async () => {
      const shard = await shardOf(seeds, slot)
      return (await Promise.all(shard.replicas.map(inSync))).some(Boolean)
    }, 30_000, { intervalMs: 100, ignoreErrors: true })
    const members = topo.nodes.map(n => n.cluster?.memberId)
    // A client with a will on every node, and one watcher of all the wills.
    const willTopic = unique('will')
    const watcher = await connect(topo.urls[0] as string, { reconnectPeriod: 100 })
    const wills = collect(watcher)
    await watcher.subscribeAsync(`${willTopic}/#`, { qos: 1 })
    const withWills = await Promise.all(topo.urls.map(async (url, i) => await connect(url, { clientId: unique(`will-${i}`), will: { topic: `${willTopic}/${i}`, payload: Buffer.from('gone'), qos: 1, retain: false } })))
    const shard = await shardOf(seeds, slot)
    const replica = shard.replicas[0]
    assert.ok(replica !== undefined, 'the leases\' shard has a replica')
    const started = Date.now()
    await fault(shard.primary, replica)
    await until('another primary serves the leases', async () => (await shardOf(seeds, slot)).primary.port !== shard.primary.port, 30_000, { intervalMs: 100, ignoreErrors: true })
    // Once every lease was renewed after the quiet period the scripts started, no sweep
    // can reap a live node any more: the outcome is settled.
    let state = ''
    await until('every member renewed its lease after the quiet period', async () => await withNode(replica, async r => {
      const quiet = Number(await r.hget(keys.nodesClock(), 'quietUntil') ?? 0)
      const list = await r.zrange(keys.nodes(), '0', '-1', 'WITHSCORES')
      const [seconds, micros] = await r.time()
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      const deadlines = new Map<string, number>()
      for (let i = 0; i + 1 < list.length; i += 2) deadlines.set(list[i] as string, Number(list[i + 1]))
      state = `now ${now}, quietUntil ${quiet}, leases ${JSON.stringify([...deadlines])}`
      return now > quiet && topo.nodes.every(n => (deadlines.get(n.cluster?.memberId ?? '') ?? 0) > quiet + LEASE_MS / 3)
    }), 30_000, { intervalMs: 100, ignoreErrors: true }).catch((err: unknown) => { throw new Error(`${(err as Error).message}: ${state}`) })
    t.diagnostic(`settled ${Date.now() - started} ms after the fault`)
    assert.deepEqual(topo.nodes.map(n => n.cluster?.memberId), members, 'a live node was reaped and rejoined under a new identity')
    assert.deepEqual(withWills.map(c => c.connected), [true, true, true], 'a client with a will lost its connection')
    // A will published by a reaper would have come before this marker: the watcher's node
    // publishes it after every sweep that could have reaped anyone.
    await watcher.publishAsync(`${willTopic}/marker`, 'end', { qos: 1 })
    await wills.waitFor(1, 10_000)
    assert.deepEqual(wills.messages.map(m => m.topic), [`${willTopic}/marker`], 'a will of a connected client was published')
    await Promise.all(withWills.map(async c => await c.endAsync()))
    await watcher.endAsync()
  }

  test('CLUSTER FAILOVER of the leases\' primary reaps no live node and publishes no will', async (t) => {
    await survives(t, async (_primary, replica) => { await withNode(replica, async r => await r.cluster('FAILOVER')) })
  })

  test('kill -9 of the leases\' primary reaps no live node and publishes no will', async (t) => {
    await survives(t, async (primary) => {
      const pid = await withNode(primary, async r => Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]))
      process.kill(pid, 'SIGKILL')
    })
  })
})
