/**
 * Node death with real processes on the real Redis Cluster: when a node is killed with
 * SIGKILL, the node that reaps its lease publishes the wills of its connections exactly
 * once, and its parked persistent sessions are adopted by the live nodes, so messages
 * published afterwards are queued and delivered when their clients return.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Cluster } from 'ioredis'
import { createKeySpace } from '../../src/redis/keys.js'
import { pickMember } from '../../src/sessions/reaper.js'
import { closeAll, collect, connect, connectLater, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { startNodeProcess, type NodeProcess } from '../helpers/process.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { Arrivals } from '../helpers/arrivals.js'
import { until } from '../helpers/until.js'

const LEASE_TTL_MS = 2000

describe('node death', { timeout: 180_000 }, () => {
  let redis: TestRedis
  let admin: Cluster
  let topo: Topology
  let prefix: string
  let flags: Record<string, string>
  before(async () => {
    redis = await useRedisCluster()
    admin = clusterClient(redis.seeds)
    prefix = uniquePrefix()
    flags = { redis: redis.seeds.join(','), 'redis-prefix': prefix, 'lease-ttl-ms': String(LEASE_TTL_MS) }
    topo = await startNodes(2, flags)
  })
  after(async () => {
    await closeAll()
    await topo.close()
    admin.disconnect()
    await redis.stop()
  })

  async function doomedNode (): Promise<NodeProcess> {
    return await startNodeProcess(['--redis', flags.redis ?? '', '--redis-prefix', prefix, '--lease-ttl-ms', String(LEASE_TTL_MS), '--log-level', 'info'])
  }

  test('the wills of a SIGKILLed node\'s connections are published once, by its reaper [MQTT-3.1.2-8]', async (t) => {
    const doomed = await doomedNode()
    t.after(async () => { await doomed.kill() })
    const topic = unique('will')
    const watcher = await connect(topo.urls[0] ?? '')
    await watcher.subscribeAsync(`${topic}/#`, { qos: 1 })
    const wills = collect(watcher)
    const ids = Array.from({ length: 6 }, (_, i) => unique(`dying-${i}`))
    for (const [i, clientId] of ids.entries()) {
      await connect(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, {
        clientId,
        clean: i % 2 === 0,
        will: { topic: `${topic}/${clientId}`, payload: Buffer.from('gone'), qos: 1, retain: false }
      })
    }
    const live = topo.nodes.map(n => n.cluster?.memberId)
    const dead = [...(topo.nodes[0]?.cluster?.peers ?? [])].find(p => !live.includes(p))
    assert.ok(dead !== undefined, `the doomed node is a peer of node 0: ${[...(topo.nodes[0]?.cluster?.peers ?? [])].join(' ')}`)
    await doomed.kill('SIGKILL')
    const killedAt = Date.now()
    await wills.waitFor(ids.length, LEASE_TTL_MS + 5000)
    t.diagnostic(`all ${ids.length} wills received ${Date.now() - killedAt} ms after SIGKILL (lease ${LEASE_TTL_MS} ms)`)
    // Published once: the reaper publishes the wills before it drops the dead member and
    // tells the other node (which then drops it too). Once neither node has it as a peer,
    // a marker from each node comes after any will that node published.
    await until('no live node has the dead member as a peer', () => topo.nodes.every(n => n.cluster?.peers.has(dead) !== true), LEASE_TTL_MS + 5000,
      { observed: () => topo.nodes.map(n => [...(n.cluster?.peers ?? [])]) })
    const markers = await Promise.all(topo.urls.map(async url => await connect(url)))
    await Promise.all(markers.map(async (m, i) => await m.publishAsync(`${topic}/marker`, `marker ${i}`, { qos: 1 })))
    await until('both markers arrived', () => wills.messages.filter(m => m.topic === `${topic}/marker`).length === markers.length, 5000,
      { observed: () => wills.messages.map(m => `${m.topic} ${m.payload}`) })
    assert.deepEqual(wills.messages.filter(m => m.topic !== `${topic}/marker`).map(m => m.topic).sort(), ids.map(id => `${topic}/${id}`).sort(), 'each will once')
    // Nothing of the clean sessions is left; the persistent ones are adopted.
    const keys = createKeySpace(prefix)
    for (const [i, id] of ids.entries()) {
      const owner = await admin.hget(keys.session(id).meta, 'owner')
      if (i % 2 === 0) assert.equal(owner, null, `clean session ${id} deleted`)
      else assert.ok(topo.nodes.some(n => n.cluster?.memberId === owner), `persistent session ${id} adopted by a live node (owner ${String(owner)})`)
    }
  })

  test('a persistent session parked on a SIGKILLed node is adopted: messages published after the reap are queued and delivered on return', async (t) => {
    const doomed = await doomedNode()
    t.after(async () => { await doomed.kill() })
    // One parked session for each live node as its adopter (the reaper's choice, by a hash
    // of member and client id): whichever node reaps, it adopts one of them itself, and
    // the other node one by an adopt record.
    const live = topo.nodes.map(n => n.cluster?.memberId ?? '')
    const sessions = live.map((adopter) => {
      let clientId: string
      do clientId = unique('parked'); while (pickMember(live, clientId) !== adopter)
      return { clientId, topic: unique('adopt') }
    })
    const keys = createKeySpace(prefix)
    for (const { clientId, topic } of sessions) {
      const first = await connect(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, { clientId, clean: false })
      await first.subscribeAsync(topic, { qos: 1 })
      await first.endAsync()
      await until('the session is parked', async () => await admin.hget(keys.session(clientId).meta, 'parked') === '1', 5000)
    }

    const dead = [...(topo.nodes[0]?.cluster?.peers ?? [])].find(p => !live.includes(p))
    assert.ok(dead !== undefined, 'the doomed node is a peer of node 0')
    await doomed.kill('SIGKILL')
    // After the reap: the reaper drops the dead node's routes once the adopters confirmed
    // theirs, so from then on a publish reaches the adopter only (before, it may also reach
    // the dead inbox and come again, later, from its journal).
    await until('no live node has the dead member as a peer', () => topo.nodes.every(n => n.cluster?.peers.has(dead) !== true), LEASE_TTL_MS + 10_000,
      { observed: () => topo.nodes.map(n => [...(n.cluster?.peers ?? [])]) })
    const publisher = await connect(topo.urls[0] ?? '')
    for (const { clientId, topic } of sessions) {
      const ms = await until(`a live node adopted ${clientId}`, async () => live.includes(await admin.hget(keys.session(clientId).meta, 'owner') ?? ''), LEASE_TTL_MS + 5000)
      t.diagnostic(`${clientId} adopted ${ms} ms after SIGKILL`)
      // The adopter holds a route for it: give the route a moment to reach the publisher's node.
      const adopter = await admin.hget(keys.session(clientId).meta, 'owner')
      await until('the publisher\'s node routes the topic to the adopter', () => adopter === topo.nodes[0]?.cluster?.memberId || topo.nodes[0]?.cluster?.table.match(topic).has(adopter ?? '') === true, 5000)
      for (let i = 0; i < 10; i++) await publisher.publishAsync(topic, `m${i}`, { qos: 1 })
    }
    for (const { clientId } of sessions) {
      const back = connectLater(topo.urls[1] ?? '', { clientId, clean: false })
      const got = collect(back.client)
      assert.equal((await back.connected()).sessionPresent, true)
      await got.waitFor(10)
      assert.deepEqual(got.messages.map(m => m.payload), Array.from({ length: 10 }, (_, i) => `m${i}`), `${clientId}: the messages queued by its adopter`)
    }
  })

  test('a gracefully stopped node hands its parked sessions to the others at once', async () => {
    const leaving = await startNodes(1, flags)
    const topic = unique('handover')
    const clientId = unique('parked')
    const first = await connect(leaving.urls[0] ?? '', { clientId, clean: false })
    await first.subscribeAsync(topic, { qos: 1 })
    await first.endAsync()
    const keys = createKeySpace(prefix)
    await until('the session is parked', async () => await admin.hget(keys.session(clientId).meta, 'parked') === '1', 5000)
    const leavingMember = leaving.nodes[0]?.cluster?.memberId ?? ''
    assert.notEqual(await admin.zscore(keys.nodes(), leavingMember), null, 'the leaving node holds a lease before it stops')
    await leaving.close()
    // It left the membership itself: no peer has to wait for its lease to run out.
    assert.equal(await admin.zscore(keys.nodes(), leavingMember), null, `the stopped node ${leavingMember} still holds a lease`)
    const live = topo.nodes.map(n => n.cluster?.memberId)
    const owner = await admin.hget(keys.session(clientId).meta, 'owner')
    assert.ok(live.includes(owner ?? ''), `owned by a live node once the stop returned (owner ${String(owner)})`)
    await until('the publisher\'s node routes the topic to the new owner', () => owner === topo.nodes[0]?.cluster?.memberId || topo.nodes[0]?.cluster?.table.match(topic).has(owner ?? '') === true, 5000)
    const publisher = await connect(topo.urls[0] ?? '')
    await publisher.publishAsync(topic, 'while moved', { qos: 1 })
    const back = connectLater(topo.urls[1] ?? '', { clientId, clean: false })
    const got = collect(back.client)
    assert.equal((await back.connected()).sessionPresent, true)
    assert.equal((await got.waitFor(1))[0]?.payload, 'while moved')
  })

  test('a QoS 1 stream to a persistent subscriber whose node is SIGKILLed: it reconnects elsewhere and every acknowledged publish arrives', async (t) => {
    const doomed = await doomedNode()
    t.after(async () => { await doomed.kill() })
    const topic = unique('stream')
    const clientId = unique('sub')
    const total = 300
    const arrivals = new Arrivals(total)
    const first = await connect(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, { clientId, clean: false })
    arrivals.watch(first)
    await first.subscribeAsync(topic, { qos: 1 })
    const publisher = await connect(topo.urls[0] ?? '')
    for (let i = 0; i < total; i++) {
      await publisher.publishAsync(topic, String(i), { qos: 1 })
      if (i === 100) {
        await doomed.kill('SIGKILL')
        const again = connectLater(topo.urls[1] ?? '', { clientId, clean: false })
        arrivals.watch(again.client)
        await again.connected()
      }
    }
    await arrivals.complete('every acknowledged publish arrived', LEASE_TTL_MS + 10_000)
    t.diagnostic(`duplicates: ${arrivals.duplicates} of ${total}`)
  })

  test('a persistent session parked on a node SIGKILLed mid-stream gets every acknowledged publish when it returns', async (t) => {
    const doomed = await doomedNode()
    t.after(async () => { await doomed.kill() })
    const topic = unique('parkedstream')
    const clientId = unique('away')
    const total = 200
    const first = await connect(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, { clientId, clean: false })
    await first.subscribeAsync(topic, { qos: 1 })
    await first.endAsync()
    const keys = createKeySpace(prefix)
    await until('the session is parked', async () => await admin.hget(keys.session(clientId).meta, 'parked') === '1', 5000)
    const publisher = await connect(topo.urls[0] ?? '')
    for (let i = 0; i < total; i++) {
      await publisher.publishAsync(topic, String(i), { qos: 1 })
      if (i === 50) await doomed.kill('SIGKILL')
    }
    const live = topo.nodes.map(n => n.cluster?.memberId)
    await until('a live node adopted the session', async () => live.includes(await admin.hget(keys.session(clientId).meta, 'owner') ?? ''), LEASE_TTL_MS + 5000)
    // The journal replay follows the adoption; the client may also come back before it
    // ends (then the replay reaches it through the adopter).
    await until('the queue is complete', async () => await admin.zcard(keys.session(clientId).queue) >= total, 10_000).catch(() => {})
    const back = connectLater(topo.urls[1] ?? '', { clientId, clean: false })
    const arrivals = new Arrivals(total)
    arrivals.watch(back.client)
    await back.connected()
    await arrivals.complete('every acknowledged publish arrived', 10_000)
    t.diagnostic(`duplicates: ${arrivals.duplicates} of ${total}`)
  })
})
