/**
 * A subscriber's node is SIGKILLed and the subscriber reconnects to another node at once,
 * long before the dead node's lease runs out: its CONNACK does not wait for the dead node
 * to acknowledge the new route, and once the dead node is reaped, the replay of its journal
 * sends nothing the client had acknowledged before the node recorded it (the session's mark).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ClusterRouting } from '../../src/routing/cluster.js'
import { closeAll, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { startNodeProcess } from '../helpers/process.js'
import type { Cluster } from 'ioredis'
import { createKeySpace } from '../../src/redis/keys.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'
import { decodeFrame } from '../../src/routing/frames.js'
import { decodeMark } from '../../src/sessions/deferred.js'

/** The sender and number of the journaled frame that carried `payload`. */
async function frameHolding (redis: Cluster, journal: string, payload: string): Promise<{ sender: string, seq: number }> {
  for (const [, fields] of await redis.xrangeBuffer(journal, '-', '+')) {
    const raw = fields[1]
    if (raw === undefined) continue
    const frame = decodeFrame(raw)
    if (frame.records.some(r => r.kind === 'publish' && r.payload.toString() === payload)) return { sender: frame.sender, seq: frame.seq }
  }
  throw new Error(`no frame in ${journal} carries ${payload}`)
}

const LEASE_TTL_MS = 3000

describe('a peer that died before its lease ran out', { timeout: 90_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let flags: Record<string, string>
  let admin: Cluster
  const routing = (i: number): ClusterRouting => topo.nodes[i]?.cluster as ClusterRouting

  before(async () => {
    redis = await useRedisCluster()
    flags = { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix(), 'lease-ttl-ms': String(LEASE_TTL_MS) }
    topo = await startNodes(2, flags)
    admin = clusterClient(redis.seeds)
  })
  after(async () => {
    await closeAll()
    await topo.close()
    admin.disconnect()
    await redis.stop()
  })

  test('a subscriber reconnecting elsewhere right after its node died: routes do not wait for the dead node, and its journal replays none of what the client had acknowledged before the node recorded it', async (t) => {
    const doomed = await startNodeProcess(['--redis', flags.redis ?? '', '--redis-prefix', flags['redis-prefix'] ?? '', '--lease-ttl-ms', String(LEASE_TTL_MS)])
    t.after(async () => { await doomed.kill() })
    await until('both nodes see the third as a peer', () => topo.nodes.every(n => (n.cluster?.peers.size ?? 0) === 2), 10_000,
      { observed: () => topo.nodes.map(n => n.cluster?.peers.size) })
    const topic = unique('dead-peer')
    const clientId = unique('sub')
    // Every message is acknowledged by the client before its node dies.
    const first = await connect(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, { clientId, clean: false })
    await first.subscribeAsync(topic, { qos: 1 })
    const before: string[] = []
    first.on('message', (_t, payload) => before.push(payload.toString()))
    const pub = await connect(topo.urls[0] as string)
    for (let i = 0; i < 20; i++) await pub.publishAsync(topic, `early-${i}`, { qos: 1 })
    await until('the subscriber got and acknowledged the early messages', () => before.length === 20, 10_000, { observed: () => before.length })
    // mqtt.js acknowledges on receipt; a round trip on that connection makes sure the
    // PUBACKs reached the node before it dies.
    await first.subscribeAsync(`${topic}/barrier`, { qos: 1 })
    // The node records what the session settled (its mark) shortly after the PUBACKs; wait
    // until the mark covers the frame that carried the last early message.
    const doomedId = [...routing(0).peers].find(p => p !== routing(1).memberId) ?? ''
    const keys = createKeySpace(flags['redis-prefix'] ?? '')
    const last = await frameHolding(admin, keys.journal(doomedId), 'early-19')
    await until('the doomed node\'s mark covers the acknowledged messages', async () =>
      (decodeMark(doomedId, await admin.hget(keys.session(clientId).meta, 'jw'))?.get(last.sender) ?? 0) > last.seq, 10_000,
    { observed: async () => ({ mark: await admin.hget(keys.session(clientId).meta, 'jw'), last }) })
    const timeoutsBefore = routing(1).stats().routeAckTimeouts
    await doomed.kill('SIGKILL')

    // At once, while the dead node still holds its lease: the session resumes elsewhere.
    const again = await connect(topo.urls[1] as string, { clientId, clean: false })
    const after: Array<{ payload: string, dup: boolean }> = []
    again.on('message', (_t, payload, packet) => after.push({ payload: payload.toString(), dup: packet.dup }))
    await again.subscribeAsync(`${topic}/fresh`, { qos: 1 })
    assert.equal(routing(1).stats().routeAckTimeouts, timeoutsBefore, 'a route change waited in vain for the dead node to acknowledge it')

    // Once the dead node is reaped its journal (holding the 20 early messages) is replayed
    // to the session's new owner; a marker published after that shows what came of it.
    const dead = doomedId
    await until('the dead node is reaped', () => dead !== undefined && topo.nodes.every(n => !(n.cluster?.peers.has(dead) ?? false)), LEASE_TTL_MS + 10_000,
      { observed: () => topo.nodes.map(n => [...(n.cluster?.peers ?? [])]) })
    // The reaper deletes the journal once it has replayed it (what it handed to the other
    // node left before the marker's frame, on the same channel).
    const journal = keys.journal(dead)
    await until('the reaper replayed and deleted the dead node\'s journal', async () => await admin.exists(journal) === 0, 10_000)
    await pub.publishAsync(topic, 'marker', { qos: 1 })
    await until('the marker arrived', () => after.some(m => m.payload === 'marker'), 10_000, { observed: () => after })
    assert.deepEqual(after.filter(m => m.payload !== 'marker'), [], 'messages the client had acknowledged were sent again')
  })
})
