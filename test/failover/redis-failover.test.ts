/**
 * Redis failures under a live cross-node stream, on a Redis Cluster of this file's own
 * (the tests change it): CLUSTER FAILOVER of the primary holding a node's inbox channel,
 * a migration of that channel's slot to another primary, and kill -9 of its primary.
 * Each time delivery must resume by itself and every message published meanwhile must
 * arrive (the journal fills the gap); the time it took is reported.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import calculateSlot from 'cluster-key-slot'
import { createKeySpace } from '../../src/redis/keys.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix } from '../helpers/redis.js'
import { startRedisCluster, withRedis, type RedisCluster } from '../support/redis-cluster.js'
import { until } from '../helpers/until.js'

interface Shard { master: { port: number, id: string }, replicas: Array<{ port: number, id: string }>, slots: Array<[number, number]> }

describe('Redis failures under a cross-node stream', { timeout: 120_000 }, () => {
  let cluster: RedisCluster
  let topo: Topology
  let ports: number[]
  const prefix = uniquePrefix()

  /** Shards as one live node sees them. */
  async function shards (): Promise<Shard[]> {
    for (const port of ports) {
      try {
        return await withRedis(port, async r => {
          const lines = (await r.cluster('NODES') as string).trim().split('\n').map(l => l.split(' '))
          const alive = lines.filter(f => !(f[2] ?? '').includes('fail'))
          return alive.filter(f => (f[2] ?? '').includes('master') && f.length > 8).map(f => ({
            master: { port: Number((f[1] ?? '').split(':')[1]?.split('@')[0]), id: f[0] ?? '' },
            replicas: alive.filter(g => g[3] === f[0]).map(g => ({ port: Number((g[1] ?? '').split(':')[1]?.split('@')[0]), id: g[0] ?? '' })),
            slots: f.slice(8).filter(s => !s.startsWith('[')).map(s => {
              const [a, b] = s.split('-')
              return [Number(a), Number(b ?? a)] as [number, number]
            })
          }))
        })
      } catch {}
    }
    throw new Error('no Redis node answered')
  }

  async function shardOf (slot: number): Promise<Shard> {
    const shard = (await shards()).find(s => s.slots.some(([a, b]) => slot >= a && slot <= b))
    if (shard === undefined) throw new Error(`no shard serves slot ${slot}`)
    return shard
  }

  /** Slot of the inbox channel of the node the subscriber is on (node 1). */
  function inboxSlot (): number {
    const memberId = topo.nodes[1]?.cluster?.memberId ?? ''
    return calculateSlot(createKeySpace(prefix).inbox(memberId))
  }

  /** Publishes QoS 1 from node 0 every 20 ms; the subscriber is on node 1. */
  async function stream (): Promise<{ sent: () => number, acked: Set<number>, received: () => Set<number>, stop: () => void }> {
    const topic = unique('failover')
    const sub = await connect(topo.urls[1] as string, { reconnectPeriod: 100 })
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(topo.urls[0] as string, { reconnectPeriod: 100 })
    const acked = new Set<number>()
    let seq = 0
    const timer = setInterval(() => {
      const n = ++seq
      pub.publish(topic, String(n), { qos: 1 }, (err) => { if (err === undefined || err === null) acked.add(n) })
    }, 20)
    return {
      sent: () => seq,
      acked,
      received: () => new Set(got.messages.map(m => Number(m.payload))),
      stop: () => clearInterval(timer)
    }
  }

  /** A QoS 1 message from new clients on node `from` to a new subscriber on node `to`. */
  async function delivers (from: number, to: number): Promise<void> {
    const topic = unique('after')
    const sub = await connect(topo.urls[to] as string)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(topo.urls[from] as string)
    await pub.publishAsync(topic, `${from} to ${to}`, { qos: 1 })
    assert.equal((await got.waitFor(1, 10_000))[0]?.payload, `${from} to ${to}`)
    await Promise.all([sub.endAsync(), pub.endAsync()])
  }

  /** Every primary has a replica whose replication link is up (the state a failover needs). */
  async function replicated (): Promise<boolean> {
    const all = await shards()
    if (all.length !== 3) return false
    for (const shard of all) {
      let synced = false
      for (const replica of shard.replicas) {
        const info = await withRedis(replica.port, async r => await r.info('replication'))
        if (/master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info)) synced = true
      }
      if (!synced) return false
    }
    return true
  }

  async function resumesAfter (t: { diagnostic: (s: string) => void }, what: string, event: () => Promise<void>, needsReplicas = true): Promise<void> {
    if (needsReplicas) await until('every primary has a replica in sync', replicated, 30_000, { intervalMs: 50, ignoreErrors: true })
    const s = await stream()
    let first = 0
    let mark = 0
    try {
      await until('the stream flows', () => s.received().size > 5, 10_000, { intervalMs: 50, ignoreErrors: true })
      const started = Date.now()
      first = s.sent() + 1
      await event()
      const settled = Date.now() - started
      mark = s.sent()
      await until(`a message sent after the ${what} arrives`, () => [...s.received()].some(n => n > mark), 60_000, { intervalMs: 50, ignoreErrors: true })
      t.diagnostic(`${what}: Redis settled after ${settled} ms; delivery resumed ${Date.now() - started} ms after the event began`)
      // The stream goes on for a while after it resumed (messages lost at the end of an
      // outage are found by the journal audit, not by a later frame).
      await until('50 more messages sent after the event arrive', () => [...s.received()].filter(n => n > mark).length >= 50, 20_000, { intervalMs: 50 })
    } finally {
      s.stop()
    }
    // Every message published while the inbox was in trouble arrives (the journal fills
    // the gap), and so does every other acknowledged one.
    const last = s.sent()
    await until('the publisher has its acknowledgements', () => s.acked.has(last), 20_000, { intervalMs: 50, observed: () => `${s.acked.size} of ${last} acknowledged` })
    const missing = (): number[] => [...s.acked].filter(n => !s.received().has(n)).sort((a, b) => a - b)
    await until('every acknowledged message arrived', () => missing().length === 0, 20_000, { intervalMs: 50, observed: () => `missing ${missing().join(' ')}` }).catch(() => {})
    const during = Array.from({ length: mark - first + 1 }, (_, i) => first + i)
    t.diagnostic(`${what}: ${during.length} messages published during the event, ${during.filter(n => s.acked.has(n)).length} acknowledged; ${s.acked.size} acknowledged in all`)
    assert.ok(during.length > 0, 'messages were published during the event')
    assert.deepEqual(during.filter(n => !s.received().has(n)), [], `messages published during the ${what} that never arrived`)
    assert.deepEqual(missing(), [], 'acknowledged messages that never arrived')
    // Both nodes still serve new clients, both ways.
    await delivers(0, 1)
    await delivers(1, 0)
  }

  before(async () => {
    cluster = await startRedisCluster()
    ports = cluster.nodes.map(n => n.port)
    topo = await startNodes(2, { redis: cluster.nodes.map(n => `${n.host}:${n.port}`).join(','), 'redis-prefix': prefix, 'lease-ttl-ms': '6000' })
  })
  after(async () => {
    await closeAll()
    await topo?.close()
    await cluster?.stop()
  })

  test('CLUSTER FAILOVER of the primary holding a node\'s inbox: delivery resumes and every message published meanwhile arrives', async (t) => {
    await resumesAfter(t, 'CLUSTER FAILOVER', async () => {
      const shard = await shardOf(inboxSlot())
      const replica = shard.replicas[0]
      assert.ok(replica !== undefined, 'the shard has a replica')
      await withRedis(replica.port, async r => await r.cluster('FAILOVER'))
      await until('the replica is primary', async () => (await shardOf(inboxSlot())).master.port === replica.port, 20_000, { intervalMs: 50, ignoreErrors: true })
    })
  })

  test('kill -9 of the primary holding a node\'s inbox: a replica takes over, delivery resumes and every message published meanwhile arrives', async (t) => {
    await resumesAfter(t, 'kill -9 of the primary', async () => {
      const shard = await shardOf(inboxSlot())
      assert.ok(shard.replicas.length > 0, 'the shard has a replica to promote')
      const pid = await withRedis(shard.master.port, async r => Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]))
      process.kill(pid, 'SIGKILL')
      try {
        await until('a replica is promoted', async () => (await shardOf(inboxSlot())).master.port !== shard.master.port, 30_000, { intervalMs: 50, ignoreErrors: true })
      } catch (err) {
        const survivor = ports.find(p => p !== shard.master.port) as number
        const nodes = await withRedis(survivor, async r => await r.cluster('NODES') as string)
        throw new Error(`${(err as Error).message}; killed ${shard.master.port}; CLUSTER NODES:\n${nodes}`)
      }
    })
  })

  test('the inbox channel\'s slot migrates to another primary: delivery resumes and every message published meanwhile arrives', async (t) => {
    await resumesAfter(t, 'slot migration', async () => {
      const slot = inboxSlot()
      const from = await shardOf(slot)
      const to = (await shards()).find(s => s.master.id !== from.master.id)
      assert.ok(to !== undefined, 'another primary')
      await withRedis(to.master.port, async r => await r.cluster('SETSLOT', slot, 'IMPORTING', from.master.id))
      await withRedis(from.master.port, async r => await r.cluster('SETSLOT', slot, 'MIGRATING', to.master.id))
      // Keys in the slot, if any, move first (an inbox channel is not a key; other keys may share the slot).
      for (;;) {
        const keys = await withRedis(from.master.port, async r => await r.cluster('GETKEYSINSLOT', slot, 100) as string[])
        if (keys.length === 0) break
        await withRedis(from.master.port, async r => await r.migrate('127.0.0.1', to.master.port, '', 0, 5000, 'KEYS', ...keys))
      }
      // The documented order: destination, source, then every other primary.
      const others = (await shards()).filter(s => s.master.id !== to.master.id && s.master.id !== from.master.id)
      for (const node of [to.master, from.master, ...others.map(s => s.master)]) {
        await withRedis(node.port, async r => await r.cluster('SETSLOT', slot, 'NODE', to.master.id))
      }
      await until('the slot is served by its new primary', async () => (await shardOf(slot)).master.id === to.master.id, 20_000, { intervalMs: 50, ignoreErrors: true })
    }, false)
  })

  /**
   * A QoS 1 stream from node 0 to a persistent session on node 1 (it reconnects, clean
   * session 0, if its connection drops); `event` is applied to the primary of the
   * session's slot. Returns what was acknowledged to the publisher and what arrived.
   */
  async function sessionStream (t: { diagnostic: (s: string) => void }, what: string, event: (slot: number) => Promise<void>): Promise<{ missing: number[] }> {
    // A client id whose session lives on a shard that still has a replica in sync (an
    // earlier kill -9 leaves one shard without).
    let clientId = unique('persistent')
    await until('a shard with a replica in sync', async () => {
      clientId = unique('persistent')
      const shard = await shardOf(calculateSlot(createKeySpace(prefix).session(clientId).meta))
      for (const replica of shard.replicas) {
        const info = await withRedis(replica.port, async r => await r.info('replication'))
        if (/master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info)) return true
      }
      return false
    }, 30_000, { intervalMs: 50, ignoreErrors: true })
    const topic = unique('session-failover')
    const sub = await connect(topo.urls[1] as string, { clientId, clean: false, reconnectPeriod: 100 })
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const pub = await connect(topo.urls[0] as string, { reconnectPeriod: 100 })
    const acked = new Set<number>()
    let seq = 0
    const timer = setInterval(() => {
      const n = ++seq
      pub.publish(topic, String(n), { qos: 1 }, (err) => { if (err === undefined || err === null) acked.add(n) })
    }, 20)
    const received = (): Set<number> => new Set(got.messages.map(m => Number(m.payload)))
    let mark = 0
    try {
      await until('the stream flows', () => received().size > 5, 10_000, { intervalMs: 50, ignoreErrors: true })
      const started = Date.now()
      await event(calculateSlot(createKeySpace(prefix).session(clientId).meta))
      mark = seq
      await until(`a message sent after the ${what} arrives`, () => [...received()].some(n => n > mark), 60_000, { intervalMs: 50, ignoreErrors: true })
      t.diagnostic(`${what} of the session's primary: delivery resumed ${Date.now() - started} ms after the event began`)
      // The stream goes on for a while after it resumed.
      await until('50 more messages sent after the event arrive', () => [...received()].filter(n => n > mark).length >= 50, 20_000, { intervalMs: 50 })
    } finally {
      clearInterval(timer)
    }
    const last = seq
    await until('the publisher has its acknowledgements', () => [...acked].every(n => n <= last) && acked.has(last), 10_000, { intervalMs: 50, ignoreErrors: true }).catch(() => {})
    await until('every acknowledged publish arrived', () => [...acked].every(n => received().has(n)), 10_000, { intervalMs: 50, ignoreErrors: true }).catch(() => {})
    const have = received()
    const missing = [...acked].filter(n => !have.has(n)).sort((a, b) => a - b)
    const duplicates = got.messages.length - have.size
    t.diagnostic(`${what}: ${acked.size} acknowledged, ${missing.length} missing, ${duplicates} duplicates`)
    return { missing }
  }

  test('CLUSTER FAILOVER of the primary holding a persistent session: every acknowledged publish arrives', async (t) => {
    const { missing } = await sessionStream(t, 'CLUSTER FAILOVER', async (slot) => {
      const shard = await shardOf(slot)
      const replica = shard.replicas[0]
      assert.ok(replica !== undefined, 'the shard has a replica')
      await withRedis(replica.port, async r => await r.cluster('FAILOVER'))
      await until('the replica is primary', async () => (await shardOf(slot)).master.port === replica.port, 20_000, { intervalMs: 50, ignoreErrors: true })
    })
    assert.deepEqual(missing, [])
  })

  test('kill -9 of the primary holding a persistent session: a replica takes over and every acknowledged publish arrives', async (t) => {
    const { missing } = await sessionStream(t, 'kill -9', async (slot) => {
      const shard = await shardOf(slot)
      assert.ok(shard.replicas.length > 0, 'the shard has a replica to promote')
      const pid = await withRedis(shard.master.port, async r => Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]))
      process.kill(pid, 'SIGKILL')
      await until('a replica is promoted', async () => (await shardOf(slot)).master.port !== shard.master.port, 30_000, { intervalMs: 50, ignoreErrors: true })
    })
    assert.deepEqual(missing, [])
  })
})
