/**
 * Publish times across nodes: the inbox frames carry when the publishing node accepted
 * each PUBLISH, the receiving node times its deliveries (slotmq_delivery_latency_seconds,
 * origin peer) from it, frames of an older release (version 2, no time) are still read,
 * and while a member that reads only those is live, nodes write them.
 *
 * Two nodes and the test share one process, so one wall clock: every bound below is an
 * ordering of readings of that clock, never a latency figure.
 */
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { createRedis, type RedisConnections } from '../../src/redis/client.js'
import { createKeySpace, type KeySpace } from '../../src/redis/keys.js'
import { Scripts } from '../../src/redis/scripts.js'
import { decodeFrame, FRAME_VERSION, FrameWriter, LEGACY_FRAME_VERSION, type FrameVersion, type PublishRecord } from '../../src/routing/frames.js'
import { wallClockMs } from '../../src/util/wall-clock.js'
import { closeAll, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'

interface SeenFrame { version: FrameVersion, sender: string, publishes: PublishRecord[] }

describe('publish times in inbox frames, two nodes on a Redis Cluster', { timeout: 120_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let spy: RedisConnections
  let keys: KeySpace
  let inboxB: string
  /** Every frame to node B's inbox, decoded, as a second subscriber of its channel sees it. */
  const frames: SeenFrame[] = []
  let sub: MqttClient
  let pub: MqttClient
  const topic = unique('ptime')
  /** When each payload reached the subscriber (wall clock, ms). */
  const delivered = new Map<string, number>()

  before(async () => {
    redis = await useRedisCluster()
    const prefix = uniquePrefix()
    keys = createKeySpace(prefix)
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': prefix })
    spy = await createRedis(loadConfig({ flags: { redis: redis.seeds.join(',') } }), { log: createLogger({ level: 'silent', nodeId: 'spy' }), memberName: 'spy' })
    inboxB = keys.inbox(member(1))
    spy.onFrame((channel, frame) => {
      if (channel !== inboxB) return
      const { version, sender, records } = decodeFrame(frame)
      frames.push({ version, sender, publishes: records.filter((r): r is PublishRecord => r.kind === 'publish' && r.topic.startsWith(topic)) })
    })
    await spy.listen(inboxB)
    sub = await connect(topo.urls[1] ?? '', { clientId: unique('sub') })
    sub.on('message', (_topic, payload) => { delivered.set(payload.toString(), wallClockMs()) })
    await sub.subscribeAsync(`${topic}/#`, { qos: 1 })
    pub = await connect(topo.urls[0] ?? '', { clientId: unique('pub') })
  })
  after(async () => {
    await closeAll()
    await spy?.close()
    await topo?.close()
    await redis?.stop()
  })

  function member (i: number): string {
    const m = topo.nodes[i]?.cluster?.memberId
    if (m === undefined) throw new Error(`node ${i} has no member id`)
    return m
  }

  /** Node B's delivery latency histogram for messages from peers: count and sum (s). */
  async function peerLatency (): Promise<{ count: number, sum: number }> {
    const metric = await topo.nodes[1]?.metrics.deliveryLatency.get()
    const value = (name: string): number => metric?.values.find(v => v.metricName === name && v.labels.origin === 'peer')?.value ?? 0
    return { count: value('slotmq_delivery_latency_seconds_count'), sum: value('slotmq_delivery_latency_seconds_sum') }
  }

  async function deliveredOf (payloads: string[], what: string): Promise<void> {
    await until(what, () => payloads.every(p => delivered.has(p)), 10_000, {
      observed: () => ({ missing: payloads.filter(p => !delivered.has(p)) })
    })
  }

  /** The publish records for `payloads` in the frames B's inbox got, by payload. */
  function recordsOf (payloads: string[]): Map<string, { record: PublishRecord, frame: SeenFrame }> {
    const found = new Map<string, { record: PublishRecord, frame: SeenFrame }>()
    for (const frame of frames) for (const record of frame.publishes) if (payloads.includes(record.payload.toString())) found.set(record.payload.toString(), { record, frame })
    return found
  }

  test('each message\'s frame carries its publish time, between the PUBLISH sent and its delivery, and node B times every cross-node delivery from it', async () => {
    const before = await peerLatency()
    const sent = new Map<string, number>()
    const payloads: string[] = []
    for (let i = 0; i < 20; i++) {
      const payload = `m-${i}`
      payloads.push(payload)
      sent.set(payload, wallClockMs())
      await pub.publishAsync(`${topic}/${i % 3}`, payload, { qos: i % 2 === 0 ? 0 : 1 })
    }
    await deliveredOf(payloads, 'every message reached the subscriber on node B')
    await until('every message was seen in a frame to node B\'s inbox', () => recordsOf(payloads).size === payloads.length, 10_000, {
      observed: () => ({ seen: [...recordsOf(payloads).keys()], frames: frames.length })
    })
    for (const [payload, { record, frame }] of recordsOf(payloads)) {
      assert.equal(frame.version, FRAME_VERSION, `${payload}: frame version`)
      assert.equal(frame.sender, member(0), `${payload}: sender`)
      const at = record.publishedAt
      assert.ok(at !== undefined, `${payload}: no publish time in its frame`)
      const from = sent.get(payload) ?? NaN
      const to = delivered.get(payload) ?? NaN
      assert.ok(from <= at && at <= to, `${payload}: publish time ${at} not between the PUBLISH sent at ${from} and its delivery at ${to}`)
    }
    await until('node B counted every cross-node delivery', async () => (await peerLatency()).count >= before.count + payloads.length, 10_000, { observed: peerLatency })
    const now = await peerLatency()
    assert.equal(now.count, before.count + payloads.length, 'one observation per delivery')
    // Each observation ends before the subscriber read the message and starts after it was sent.
    const bound = payloads.reduce((s, p) => s + ((delivered.get(p) ?? 0) - (sent.get(p) ?? 0)), 0) / 1000
    assert.ok(now.sum - before.sum <= bound, `observed ${now.sum - before.sum} s in all, more than the ${bound} s from sending to receiving`)
  })

  test('frames of a node of an older release (version 2) are read and timed from their arrival; a publish time ahead of this node\'s clock counts as 0', async () => {
    const sender = `old~${randomBytes(4).toString('hex')}`
    const send = async (seq: number, version: FrameVersion, payload: string, publishedAt?: number): Promise<{ sentAt: number, latency: { count: number, sum: number } }> => {
      const before = await peerLatency()
      const sentAt = wallClockMs()
      const frame = new FrameWriter(sender, seq, version)
        .publish({ topic: `${topic}/old`, payload: Buffer.from(payload), qos: 0, retain: false, dup: false, brokerId: sender, brokerCounter: seq, publishedAt })
        .finish()
      assert.equal(await spy.send(inboxB, frame), 2, 'node B and the spy listen on the inbox')
      await deliveredOf([payload], `${payload} reached the subscriber`)
      await until(`node B counted the delivery of ${payload}`, async () => (await peerLatency()).count === before.count + 1, 10_000, { observed: peerLatency })
      const after = await peerLatency()
      return { sentAt, latency: { count: after.count - before.count, sum: after.sum - before.sum } }
    }

    // Version 2: no publish time; timed from the frame's arrival, so within send..receive.
    const legacy = await send(1, LEGACY_FRAME_VERSION, 'old-1', wallClockMs() - 60_000)
    assert.ok(legacy.latency.sum <= ((delivered.get('old-1') ?? 0) - legacy.sentAt) / 1000, `a version 2 frame timed from before its arrival: ${legacy.latency.sum} s`)
    // Version 3 from a peer whose publish was 30 s ago by the shared clock: timed from it.
    const older = await send(2, FRAME_VERSION, 'old-2', wallClockMs() - 30_000)
    assert.ok(older.latency.sum >= 30, `timed from the publish 30 s before: ${older.latency.sum} s`)
    // A peer whose clock is a minute ahead: clamped to 0, not negative.
    const ahead = await send(3, FRAME_VERSION, 'old-3', wallClockMs() + 60_000)
    assert.equal(ahead.latency.sum, 0)
  })

  test('while a member that reads only version 2 holds a lease, nodes write version 2 frames (deliveries still counted); once it is reaped, version 3 again', async () => {
    const client = clusterClient(redis.seeds)
    after(async () => { await client.quit() })
    const scripts = new Scripts(client, keys)
    const legacyMember = `legacy~${randomBytes(4).toString('hex')}`
    // What a node of an older release does at join: a lease, no frame version announced.
    await scripts.nodeHeartbeat(legacyMember, 3000, true, 60_000)
    let n = 0
    const probe = async (version: FrameVersion): Promise<boolean> => {
      const payload = `probe-${version}-${n++}`
      await pub.publishAsync(`${topic}/probe`, payload, { qos: 1 })
      await deliveredOf([payload], `${payload} reached the subscriber`)
      await until(`${payload} seen in a frame`, () => recordsOf([payload]).size === 1, 5000)
      const seen = recordsOf([payload]).get(payload)
      return seen?.frame.version === version && (version === LEGACY_FRAME_VERSION) === (seen.record.publishedAt === undefined)
    }
    const counted = (await peerLatency()).count
    await until('node A writes version 2 frames', async () => await probe(LEGACY_FRAME_VERSION), 10_000, {
      observed: () => frames.slice(-3).map(f => ({ version: f.version, publishes: f.publishes.length }))
    })
    await until('node B counted the deliveries of version 2 frames too', async () => (await peerLatency()).count >= counted + n, 10_000, { observed: peerLatency })
    // The lease runs out; a node's sweep reaps the member and everyone drops it.
    await until('node A writes version 3 frames again', async () => await probe(FRAME_VERSION), 20_000, {
      observed: () => frames.slice(-3).map(f => ({ version: f.version, publishes: f.publishes.length }))
    })
    assert.equal(topo.nodes.every(node => node.cluster?.peers.has(legacyMember) === false), true, 'the member was dropped')
    assert.equal(await scripts.nodeHeartbeat(legacyMember, 3000, false, 60_000).then(b => b.held), false, 'the member was reaped')
  })
})
