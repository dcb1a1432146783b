/**
 * Shared subscriptions through node death, with a real process SIGKILLed on the real
 * Redis Cluster: the QoS 1 messages that were sent to the dead node's member of a group
 * (kept in the dead node's journal) go to the group's members on the live nodes once the
 * dead node is reaped, and so do those published while it was dying.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import calculateSlot from 'cluster-key-slot'
import { Redis } from 'ioredis'
import { createKeySpace } from '../../src/redis/keys.js'
import { closeAll, connect } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { startNodeProcess } from '../helpers/process.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { groupReceived, member, payloads, publishAll, silentMember, type Member } from '../helpers/shared-subs.js'
import { until } from '../helpers/until.js'

const LEASE_TTL_MS = 2000

describe('shared subscriptions through node death', { timeout: 180_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let prefix: string
  before(async () => {
    redis = await useRedisCluster()
    prefix = uniquePrefix()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': prefix, 'lease-ttl-ms': String(LEASE_TTL_MS) })
  })
  after(async () => {
    await closeAll()
    await topo.close()
    await redis.stop()
  })

  test('the messages a SIGKILLed node\'s member had not acknowledged, and those sent to it while it died, reach the live members', async (t) => {
    const doomed = await startNodeProcess(['--redis', redis.seeds.join(','), '--redis-prefix', prefix, '--lease-ttl-ms', String(LEASE_TTL_MS), '--log-level', 'info'])
    t.after(async () => { await doomed.kill() })
    const topic = `shared-death/${prefix}`
    const filter = `$share/survivors/${topic}`
    const live: Member[] = [await member(topo.urls[0] ?? '', filter), await member(topo.urls[1] ?? '', filter)]
    // Never acknowledges: everything the dead node delivered to it must come back.
    const dying = await silentMember(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, filter)
    const publisher = await connect(topo.urls[0] ?? '')

    const before = payloads('before', 300)
    await publishAll(publisher, topic, before, 20)
    await until('the dying member holds messages', () => dying.packets.some(p => p.cmd === 'publish'), 10_000)
    // What only the dying member had when its node died: it never acknowledges, so its node
    // holds these (journal) and nobody else got them yet.
    const liveBefore = new Set(live.flatMap(m => m.payloads))
    const held = dying.packets.filter(p => p.cmd === 'publish').map(p => (p as { payload: Buffer }).payload.toString()).filter(p => !liveBefore.has(p))
    assert.ok(held.length > 0, `the dying member holds messages no live member got (it got ${dying.packets.length} packets)`)
    await doomed.kill('SIGKILL')
    const during = payloads('during', 300)
    await publishAll(publisher, topic, during, 20)

    const all = [...before, ...during]
    const missing = (): string[] => {
      const got = new Set(live.flatMap(m => m.payloads))
      return all.filter(p => !got.has(p))
    }
    await until('every message reached a live member', () => missing().length === 0, 20_000)
      .catch((err: Error) => { throw new Error(`${err.message}: ${missing().length} missing, ${missing().slice(0, 20).join(' ')}; of the ${held.length} only the dying member had, ${held.filter(p => missing().includes(p)).length} missing`) })
    await groupReceived(live, all.length)
    t.diagnostic(`${held.length} messages only the dead node's member had were given to the live members`)
  })

  test('with a hash strategy, a message whose hash picks a SIGKILLed node\'s member goes to a live member at once, not after the reap', async (t) => {
    // A long lease: the dead node stays a peer of the live one for the whole test, so a
    // message that reached the live member came by the publishing node's redispatch (its
    // SPUBLISH found nobody on the dead inbox), not by the reaper's journal replay.
    const lease = '15000'
    const ownPrefix = uniquePrefix()
    const flags = { redis: redis.seeds.join(','), 'redis-prefix': ownPrefix, 'lease-ttl-ms': lease, 'shared-strategy': 'hash_topic' }
    const single = await startNodes(1, flags)
    t.after(async () => { await single.close() })
    const doomed = await startNodeProcess(['--redis', flags.redis, '--redis-prefix', ownPrefix, '--lease-ttl-ms', lease, '--shared-strategy', 'hash_topic', '--log-level', 'info'])
    t.after(async () => { await doomed.kill() })
    const node = single.nodes[0]
    const topicBase = `hashed/${ownPrefix}`
    const filter = `$share/hashed/${topicBase}/+`
    const survivor = await member(single.urls[0] ?? '', filter)
    const dying = await silentMember(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, filter)
    await until('the live node knows the doomed node\'s member of the group', () => (node?.cluster?.peers.size ?? 0) === 1, 10_000,
      { observed: () => [...(node?.cluster?.peers ?? [])] })
    const dead = [...(node?.cluster?.peers ?? [])][0] ?? ''
    const publisher = await connect(single.urls[0] ?? '')
    // Topics the hash gives to the doomed node's member: what the live member did not get.
    const topics = Array.from({ length: 16 }, (_, i) => `${topicBase}/${i}`)
    for (const topic of topics) await publisher.publishAsync(topic, `before ${topic}`, { qos: 1 })
    await until('the dying member got the topics hashed to it', () => dying.packets.filter(p => p.cmd === 'publish').length + survivor.topics.length >= topics.length, 10_000,
      { observed: () => `survivor ${survivor.topics.length}, dying ${dying.packets.filter(p => p.cmd === 'publish').length}` })
    const hashedToDead = topics.filter(topic => !survivor.topics.includes(topic))
    assert.ok(hashedToDead.length > 0, `some topic is hashed to the doomed node's member (the survivor got ${survivor.topics.length} of ${topics.length})`)
    await doomed.kill('SIGKILL')
    // What the publishing node goes by: Redis counts nobody on the dead inbox. Until Redis
    // has read the killed process's closed socket (a busy machine can lag), a frame still
    // reaches that socket and the message waits in the dead node's journal for its reaper.
    const inbox = createKeySpace(ownPrefix).inbox(dead)
    const inspect = clusterClient(redis.seeds)
    t.after(() => { inspect.disconnect() })
    await inspect.exists(inbox) // connected: the slot table is loaded
    const [host = '', port = '0'] = (inspect.slots[calculateSlot(inbox)]?.[0] ?? '').split(':')
    const primary = new Redis({ host, port: Number(port) })
    t.after(() => { primary.disconnect() })
    const listeners = async (): Promise<number> => Number((await primary.call('PUBSUB', 'SHARDNUMSUB', inbox) as [string, number])[1])
    await until('Redis counts nobody on the dead node\'s inbox', async () => await listeners() === 0, 10_000, { observed: listeners })
    const target = hashedToDead[0] ?? ''
    await publisher.publishAsync(target, 'after the kill', { qos: 1 })
    await until('the live member got the message hashed to the dead member', () => survivor.payloads.includes('after the kill'), 10_000,
      { observed: () => `survivor got ${survivor.payloads.join(' ')}` })
    assert.ok(node?.cluster?.peers.has(dead) === true, `the dead node was not reaped yet: peers ${[...(node?.cluster?.peers ?? [])].join(' ')}`)
  })
})
