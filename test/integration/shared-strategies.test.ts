/**
 * Each shared subscription strategy (shared.strategy) keeps its defining property, on one
 * standalone node and on three nodes on the real Redis Cluster with the members spread
 * over them. Whatever the strategy, each message reaches the group once.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { closeAll, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { duplicates, groupQuiet, groupReceived, member, payloads, publishAll, type Member } from '../helpers/shared-subs.js'

let redis: TestRedis | undefined
before(async () => { redis = await useRedisCluster() })
after(async () => {
  await closeAll()
  await redis?.stop()
})

const modes = [
  { name: 'standalone', start: async (strategy: string) => await startNodes(1, { 'shared-strategy': strategy }) },
  {
    name: 'three nodes on a Redis Cluster',
    start: async (strategy: string) => await startNodes(3, { redis: (redis?.seeds ?? []).join(','), 'redis-prefix': uniquePrefix(), 'shared-strategy': strategy })
  }
]

/** Four members over the nodes (two on the first), and one publisher per node. */
async function setUp (topo: Topology, group: string, topic: string): Promise<{ members: Member[], publishers: MqttClient[] }> {
  const url = (i: number): string => topo.urls[i % topo.urls.length] ?? ''
  const members: Member[] = []
  for (const i of [0, 0, 1, 2]) members.push(await member(url(i), `$share/${group}/${topic}`))
  const publishers = await Promise.all(topo.urls.map(async u => await connect(u)))
  return { members, publishers }
}

/** Who got each payload. */
function receivers (members: Member[]): Map<string, number> {
  const by = new Map<string, number>()
  members.forEach((m, i) => { for (const p of m.payloads) by.set(p, i) })
  return by
}

for (const mode of modes) {
  describe(`shared subscription strategies, ${mode.name}`, () => {
    const run = (strategy: string, body: (topo: Topology) => Promise<void>): void => {
      test.describe(strategy, () => {
        let topo: Topology
        before(async () => { topo = await mode.start(strategy) })
        after(async () => { await topo.close() })
        test(strategyTitle(strategy), async () => { await body(topo) })
      })
    }

    run('round_robin', async (topo) => {
      const topic = unique('rr')
      const { members, publishers } = await setUp(topo, 'rr', topic)
      const sent = payloads('rr', 400)
      await publishAll(publishers[publishers.length - 1] as MqttClient, topic, sent)
      await groupReceived(members, sent.length)
      await groupQuiet(members, sent.length, publishers)
      assert.deepEqual(members.map(m => m.payloads.length), [100, 100, 100, 100])
    })

    run('random', async (topo) => {
      const topic = unique('random')
      const { members, publishers } = await setUp(topo, 'random', topic)
      const sent = payloads('random', 1200)
      await Promise.all(publishers.map(async (p, i) => await publishAll(p, topic, sent.filter((_, j) => j % publishers.length === i))))
      await groupReceived(members, sent.length)
      await groupQuiet(members, sent.length, publishers)
      assert.deepEqual(duplicates(members), [])
      for (const m of members) assert.ok(m.payloads.length > 0, 'every member gets a share')
    })

    run('sticky', async (topo) => {
      const topic = unique('sticky')
      const { members, publishers } = await setUp(topo, 'sticky', topic)
      const sent = payloads('sticky', 300)
      await publishAll(publishers[0] as MqttClient, topic, sent)
      await groupReceived(members, sent.length)
      await groupQuiet(members, sent.length, publishers)
      assert.equal(members.filter(m => m.payloads.length > 0).length, 1)
    })

    run('hash_topic', async (topo) => {
      const base = unique('ht')
      const { members, publishers } = await setUp(topo, 'ht', `${base}/+`)
      const topics = Array.from({ length: 8 }, (_, i) => `${base}/t${i}`)
      // One publisher per topic, in order (window 1): the order each member sees is checked.
      await Promise.all(topics.map(async (t, i) => await publishAll(publishers[i % publishers.length] as MqttClient, t, payloads(t, 50), 1)))
      await groupReceived(members, 8 * 50)
      await groupQuiet(members, 8 * 50, publishers)
      for (const t of topics) {
        const holders = members.filter(m => m.topics.includes(t))
        assert.equal(holders.length, 1, `${t} stays on one member`)
        assert.deepEqual(holders[0]?.payloads.filter(p => p.startsWith(`${t}-`)), payloads(t, 50), `${t} keeps its order`)
      }
    })

    run('hash_clientid', async (topo) => {
      const topic = unique('hc')
      const { members } = await setUp(topo, 'hc', topic)
      const url = (i: number): string => topo.urls[i % topo.urls.length] ?? ''
      const publishers = await Promise.all([0, 1, 2, 3, 4, 5].map(async i => await connect(url(i))))
      await Promise.all(publishers.map(async (p, i) => await publishAll(p, topic, payloads(`p${i}`, 60))))
      await groupReceived(members, 6 * 60)
      await groupQuiet(members, 6 * 60, publishers)
      const by = receivers(members)
      for (let i = 0; i < publishers.length; i++) {
        const got = new Set(payloads(`p${i}`, 60).map(p => by.get(p)))
        assert.equal(got.size, 1, `publisher ${i}'s messages go to one member`)
      }
    })
  })
}

function strategyTitle (strategy: string): string {
  switch (strategy) {
    case 'round_robin': return 'round_robin: one publisher\'s 400 messages are spread evenly, 100 to each of 4 members'
    case 'random': return 'random: 1,200 messages from publishers on every node reach the group once, every member gets some'
    case 'sticky': return 'sticky: one publisher\'s messages all go to one member while it stays'
    case 'hash_topic': return 'hash_topic: each topic stays on one member, in publish order'
    default: return 'hash_clientid: each publisher\'s messages all go to one member'
  }
}
