/**
 * Shared subscriptions through node death, with a real process SIGKILLed on the real
 * Redis Cluster: the QoS 1 messages that were sent to the dead node's member of a group
 * (kept in the dead node's journal) go to the group's members on the live nodes once the
 * dead node is reaped, and so do those published while it was dying.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { closeAll, connect } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { startNodeProcess } from '../helpers/process.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { groupReceived, member, payloads, publishAll, silentMember, type Member } from '../helpers/shared-subs.js'
import { until } from '../helpers/until.js'

const LEASE_TTL_MS = 2000

describe('shared subscriptions through node death', { timeout: 60_000 }, () => {
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
})
