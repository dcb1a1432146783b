/**
 * README promises about wills that no other test asserted, on the real Redis Cluster:
 *
 * - a cross-node takeover publishes the old connection's will when one of the two
 *   connections has clean session 1 (the server closed it without DISCONNECT
 *   [MQTT-3.1.2-8]) and keeps the new connection's will;
 * - a dead node's wills are published only once its lease is over (README's "within the
 *   lease time plus about half a second" is a timing, measured by the chaos suite's
 *   `wills-node-kill` scenario; here only the order: lease over, then will);
 * - a node stopped with SIGTERM publishes the wills of its connected clients as it closes
 *   them, and subscribers on the other nodes receive them.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import calculateSlot from 'cluster-key-slot'
import { Redis, type Cluster } from 'ioredis'
import type { MqttClient } from 'mqtt'
import { createKeySpace, type KeySpace } from '../../src/redis/keys.js'
import { closeAll, collect, connect, connectLater, unique } from '../helpers/mqtt.js'
import { adminHeaders, startNodes, type Topology } from '../helpers/nodes.js'
import { startNodeProcess, type NodeProcess } from '../helpers/process.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { nextEvent, until } from '../helpers/until.js'

const LEASE_TTL_MS = 2000

let redis: TestRedis
let topo: Topology
let inspect: Cluster
let prefix: string
let keys: KeySpace

before(async () => {
  redis = await useRedisCluster()
  prefix = uniquePrefix()
  keys = createKeySpace(prefix)
  inspect = clusterClient(redis.seeds)
  topo = await startNodes(3, { redis: redis.seeds.join(','), 'redis-prefix': prefix, 'lease-ttl-ms': String(LEASE_TTL_MS) })
})
after(async () => {
  await closeAll()
  await topo.close()
  inspect.disconnect()
  await redis.stop()
})

const memberOf = (i: number): string => topo.nodes[i]?.cluster?.memberId ?? ''

async function nodeProcess (): Promise<NodeProcess> {
  return await startNodeProcess(['--redis', redis.seeds.join(','), '--redis-prefix', prefix, '--lease-ttl-ms', String(LEASE_TTL_MS), '--log-level', 'info'])
}

/** The member id a node process logged at start-up (its aedes broker id). */
function memberIdOf (node: NodeProcess): string {
  const started = node.logs.find(l => l.msg === 'broker started')
  const id = started?.brokerId
  if (typeof id !== 'string') throw new Error(`no 'broker started' line with a broker id: ${JSON.stringify(node.logs.slice(-3))}`)
  return id
}

function will (topic: string, payload: string): { topic: string, payload: Buffer, qos: 1, retain: false } {
  return { topic, payload: Buffer.from(payload), qos: 1, retain: false }
}

/**
 * Publishes `marker` on `topic` from a client of node `i` and waits until `watcher`
 * received it: what node `i` published before is then in `watched.messages` too.
 */
async function markerThrough (i: number, topic: string, watched: ReturnType<typeof collect>): Promise<void> {
  const publisher = await connect(topo.urls[i] ?? '')
  const marker = unique('marker')
  await publisher.publishAsync(topic, marker, { qos: 1 })
  await until(`the marker published on node ${i} arrived`, () => watched.messages.some(m => m.payload === marker), 10_000)
  await publisher.endAsync()
}

describe('wills on a cross-node takeover', () => {
  test('[MQTT-3.1.2-8] a client id connecting on another node: the old connection\'s will is published once (the old connection had clean session 1), the new connection\'s will is kept and published when it drops', async () => {
    const id = unique('takeover-will')
    const topic = unique('wills/takeover')
    const watcher = await connect(topo.urls[2] ?? '')
    const seen = collect(watcher)
    await watcher.subscribeAsync(`${topic}/#`, { qos: 1 })
    // With clean session 0 on both connections the session goes on and the old will is
    // dropped (the protocol suite covers every combination of the flags).
    const old = await connect(topo.urls[0] ?? '', { clientId: id, clean: true, will: will(`${topic}/will`, 'old') })
    const fresh = connectLater(topo.urls[1] ?? '', { clientId: id, clean: false, will: will(`${topic}/will`, 'new') })
    assert.equal((await fresh.connected()).sessionPresent, false)
    await until('the old connection is closed', () => !old.connected)
    await seen.waitFor(1, 10_000)
    assert.equal(seen.messages[0]?.payload, 'old')

    // The new connection's will is stored, on the node that owns the session now.
    const res = await fetch(`http://127.0.0.1:${topo.nodes[1]?.http?.port ?? 0}/sessions/${encodeURIComponent(id)}`, { headers: adminHeaders })
    const shown = await res.json() as { owner: string, will: boolean }
    assert.equal(shown.owner, memberOf(1))
    assert.equal(shown.will, true, 'the new connection\'s will is stored')
    // Node 0 published nothing more: a marker it publishes after the takeover comes next.
    await markerThrough(0, `${topic}/marker`, seen)
    assert.deepEqual(seen.messages.map(m => m.payload).slice(0, 1), ['old'])
    assert.equal(seen.messages.filter(m => m.topic === `${topic}/will`).length, 1, `one will so far: ${JSON.stringify(seen.messages)}`)

    // The new connection drops without DISCONNECT: its will goes out.
    ;(fresh.client.stream as unknown as { destroy: () => void }).destroy()
    await until('the new connection\'s will arrived', () => seen.messages.some(m => m.payload === 'new'), 10_000)
    await markerThrough(1, `${topic}/marker`, seen)
    assert.deepEqual(seen.messages.filter(m => m.topic === `${topic}/will`).map(m => m.payload), ['old', 'new'])
  })

  test('[MQTT-3.1.2-8] a connection taken over while Redis does not answer for the new connection\'s clean session flag closes within a second, its will published', async (t) => {
    // The session's keys on a primary that holds neither node 0's inbox nor the leases:
    // that primary is paused while node 0 reads the flag, and nothing else waits for it.
    await inspect.exists(keys.nodes()) // connected: the slot table is loaded
    const primaryOf = (key: string): string => inspect.slots[calculateSlot(key)]?.[0] ?? ''
    const inbox0 = primaryOf(keys.inbox(memberOf(0)))
    const busy = new Set([inbox0, primaryOf(keys.nodes())])
    let id = unique('will-unread')
    for (let i = 0; i < 100 && busy.has(primaryOf(keys.session(id).meta)); i++) id = unique('will-unread')
    const sessionPrimary = primaryOf(keys.session(id).meta)
    assert.ok(!busy.has(sessionPrimary), `a client id whose session is on a third primary (inbox ${inbox0})`)
    const open = (hostPort: string): Redis => new Redis({ host: hostPort.split(':')[0] ?? '', port: Number(hostPort.split(':')[1]) })
    const inboxRedis = open(inbox0)
    const sessionRedis = open(sessionPrimary)
    const probe = open(sessionPrimary)
    t.after(async () => {
      await Promise.all([inboxRedis, sessionRedis].map(async r => await r.call('CLIENT', 'UNPAUSE').catch(() => {})))
      for (const r of [inboxRedis, sessionRedis, probe]) r.disconnect()
    })
    await probe.ping()

    const topic = unique('wills/unread')
    const watcher = await connect(topo.urls[2] ?? '')
    const seen = collect(watcher)
    await watcher.subscribeAsync(topic, { qos: 1 })
    // Both clean session 0: with the flag read, the old will would be dropped.
    const old = await connect(topo.urls[0] ?? '', { clientId: id, clean: false, will: will(topic, 'old') })
    const oldClosed = nextEvent(old, 'close', 'node 0 to close the connection taken over', 20_000)
    // The takeover's kick to node 0 waits in Redis until the session's primary is paused.
    await inboxRedis.call('CLIENT', 'PAUSE', '6000', 'WRITE')
    connectLater(topo.urls[1] ?? '', { clientId: id, clean: false })
    await until('node 1 took the session over', async () => await probe.hget(keys.session(id).meta, 'owner') === memberOf(1), 5000)
    await sessionRedis.call('CLIENT', 'PAUSE', '8000', 'ALL')
    await inboxRedis.call('CLIENT', 'UNPAUSE')
    let pauseOver = false
    const answered = probe.ping().then(() => { pauseOver = true })
    await oldClosed
    assert.equal(pauseOver, false, 'the connection closed while the session\'s primary was still paused')
    await answered
    await until('the old connection\'s will arrived', () => seen.messages.some(m => m.payload === 'old'), 15_000, { observed: () => seen.messages })
    // The next tests start from nodes that have recovered from the pause (inbox pings).
    const health = (): unknown[] => topo.nodes.map(n => n.cluster?.health())
    await until('every node is healthy again', () => topo.nodes.every(n => Object.values(n.cluster?.health() ?? { down: false }).every(ok => ok)), 15_000, { observed: health })
  })
})

describe('wills of a node that dies', { timeout: 60_000 }, () => {
  test('[MQTT-3.1.2-8] a SIGKILLed node\'s will is published only after its lease is over and removed (the lease time itself is measured by chaos wills-node-kill)', async (t) => {
    const doomed = await nodeProcess()
    t.after(async () => { await doomed.kill() })
    const member = memberIdOf(doomed)
    const topic = unique('wills/lease')
    const watcher = await connect(topo.urls[0] ?? '')
    await watcher.subscribeAsync(topic, { qos: 1 })
    // When the will arrives: Redis's clock, and whether the lease is still listed.
    const atArrival = new Promise<{ nowMs: number, score: string | null }>((resolve, reject) => {
      watcher.once('message', () => {
        Promise.all([inspect.time(), inspect.zscore(keys.nodes(), member)])
          .then(([[sec, usec], score]) => resolve({ nowMs: Number(sec) * 1000 + Math.floor(Number(usec) / 1000), score }), reject)
      })
    })
    await connect(`mqtt://127.0.0.1:${doomed.ports.mqtt}`, { clientId: unique('dying'), will: will(topic, 'gone') })
    await doomed.kill('SIGKILL')
    const deadline = await inspect.zscore(keys.nodes(), member)
    assert.ok(deadline !== null, 'the dead node\'s lease is still listed right after SIGKILL')
    const arrival = await Promise.race([
      atArrival,
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('no will within lease + 10 s')), LEASE_TTL_MS + 10_000))
    ])
    assert.equal(arrival.score, null, 'the lease was removed before the will arrived')
    assert.ok(arrival.nowMs >= Number(deadline), `the will arrived at Redis time ${arrival.nowMs}, after the lease deadline ${deadline}`)
  })
})

describe('wills at a graceful stop', { timeout: 60_000 }, () => {
  test('[MQTT-3.1.2-8] SIGTERM: the node closes its clients, their wills reach subscribers on the other nodes, and it exits 0', async (t) => {
    const stopping = await nodeProcess()
    t.after(async () => { await stopping.kill() })
    const topic = unique('wills/sigterm')
    const watchers = [await connect(topo.urls[0] ?? ''), await connect(topo.urls[1] ?? '')]
    const seen = [collect(watchers[0] as MqttClient), collect(watchers[1] as MqttClient)] as const
    for (const w of watchers) await w.subscribeAsync(`${topic}/#`, { qos: 1 })
    const ids = Array.from({ length: 4 }, (_, i) => unique(`stopping-${i}`))
    const clients: MqttClient[] = []
    for (const [i, clientId] of ids.entries()) {
      clients.push(await connect(`mqtt://127.0.0.1:${stopping.ports.mqtt}`, { clientId, clean: i % 2 === 0, will: will(`${topic}/${clientId}`, 'stopped') }))
    }
    const member = memberIdOf(stopping)
    assert.equal(await stopping.kill('SIGTERM'), 0, 'exit status 0')
    // It stopped gracefully: it left the membership itself before exiting, so the wills
    // below were published by the node as it closed its clients, not later by a reaper.
    assert.equal(await inspect.zscore(keys.nodes(), member), null, `the stopped node ${member} still holds a lease after exiting`)
    const wills = (i: 0 | 1): string[] => seen[i].messages.filter(m => m.payload === 'stopped').map(m => m.topic)
    for (const i of [0, 1] as const) {
      await until(`node ${i}'s watcher got every will`, () => new Set(wills(i)).size === ids.length, 10_000)
        .catch(() => assert.fail(`node ${i}'s watcher got ${JSON.stringify(wills(i))}, expected ${ids.length} wills`))
      // A marker from the other node travels through this node's inbox after anything
      // the stopped node sent it: nothing more of the stopped node comes after it.
      await markerThrough(1 - i, `${topic}/marker`, seen[i])
      assert.deepEqual(wills(i).sort(), ids.map(id => `${topic}/${id}`).sort(), `node ${i}: each will once`)
    }
    assert.ok(clients.every(c => !c.connected), 'every client was closed')
  })
})
