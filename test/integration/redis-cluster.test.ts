/**
 * The test Redis Cluster is real and complete: every later cluster test relies on it.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import { clusterNodesFromEnv, startRedisCluster, type ClusterNode } from '../support/redis-cluster.js'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { createRedis } from '../../src/redis/client.js'

describe('the test Redis Cluster', { timeout: 60_000 }, () => {
  let nodes: ClusterNode[]
  let stop: (() => Promise<void>) | undefined
  const clients: Array<Cluster | Redis> = []
  before(async () => {
    const fromEnv = clusterNodesFromEnv()
    if (fromEnv === undefined && process.env.CI !== undefined) {
      throw new Error('REDIS_CLUSTER_NODES is not set: in CI the cluster must be started by npm test')
    }
    if (fromEnv !== undefined) {
      nodes = fromEnv
    } else {
      const cluster = await startRedisCluster()
      nodes = cluster.nodes
      stop = cluster.stop
    }
  })
  after(async () => {
    for (const c of clients) c.disconnect()
    await stop?.()
  })

  function cluster (opts: Record<string, unknown> = {}): Cluster {
    const c = new Cluster(nodes, { scaleReads: 'master', ...opts })
    clients.push(c)
    return c
  }

  test('has 3 masters and 3 replicas covering all 16384 slots', async () => {
    const first = nodes[0] as ClusterNode
    const r = new Redis({ host: first.host, port: first.port })
    clients.push(r)
    const lines = (await r.cluster('NODES') as string).trim().split('\n')
    assert.equal(lines.filter(l => / (myself,)?master /.test(l)).length, 3)
    assert.equal(lines.filter(l => / (myself,)?slave /.test(l)).length, 3)
    assert.match(await r.cluster('INFO') as string, /cluster_slots_ok:16384/)
  })

  test('an ioredis Cluster client writes and reads keys on several masters', async () => {
    const c = cluster()
    const prefix = `t-${randomUUID()}`
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'].map(tag => `${prefix}:{${tag}}:k`)
    for (const k of keys) await c.set(k, k)
    for (const k of keys) assert.equal(await c.get(k), k)
    const holding = await Promise.all(c.nodes('master').map(async m => (await m.keys(`${prefix}:*`)).length))
    assert.ok(holding.filter(n => n > 0).length >= 2, `keys on one master only: ${holding.join(',')}`)
    await Promise.all(keys.map(async k => await c.del(k)))
  })

  test('SPUBLISH reaches an SSUBSCRIBE subscriber', async () => {
    const channel = `t-${randomUUID()}:{in:node}`
    const sub = cluster({ shardedSubscribers: true })
    const pub = cluster()
    const received = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no smessage within 5 s')), 5000)
      sub.on('smessage', (ch: string, message: string) => {
        if (ch === channel) { clearTimeout(timer); resolve(message) }
      })
    })
    await sub.ssubscribe(channel)
    await pub.spublish(channel, 'hello shard')
    assert.equal(await received, 'hello shard')
  })

  test('slotmq\'s inbox connections hand frames over as bytes and never decode them as text', async () => {
    const seeds = nodes.map(n => `${n.host}:${n.port}`).join(',')
    const conn = await createRedis(loadConfig({ flags: { redis: seeds } }), { log: createLogger({ level: 'silent', nodeId: 't' }), memberName: 'bytes' })
    try {
      const channel = `t-${randomUUID()}:{in:bytes}`
      // Not valid UTF-8: a decode would turn it into replacement characters.
      const frame = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x01])
      const received = new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no frame within 5 s')), 5000)
        conn.onFrame((ch, f) => { if (ch === channel) { clearTimeout(timer); resolve(f) } })
      })
      await conn.listen(channel)
      await conn.send(channel, frame)
      assert.deepEqual(await received, frame)
      // ioredis 6.0 would also emit each frame as a string to its own 'smessage' listener.
      const group = (conn.sub as unknown as { shardedSubscribers: { shardedSubscribers: Map<string, { instance: Redis }> } }).shardedSubscribers
      const connections = [...group.shardedSubscribers.values()]
      assert.ok(connections.length > 0, `sharded subscriber connections: ${connections.length}`)
      for (const s of connections) assert.equal(s.instance.listenerCount('smessage'), 0)
    } finally {
      await conn.close()
    }
  })
})
