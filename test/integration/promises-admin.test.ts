/**
 * README promises of the operations surface that no other test asserted:
 *
 * - `/ready` answers 200 on a serving node, 503 while it drains, and 503 while its Redis
 *   is unreachable (200 again once Redis is back);
 * - a drain closes its clients without publishing their wills, persistent sessions
 *   included, and hands those sessions over;
 * - an admin kick of a persistent session's client publishes no will and leaves the
 *   session parked, queueing for it.
 *
 * "No will was published" is decided with a marker: a message published after the close
 * on a path that a will from the same node would have taken first (the same node's frames
 * to the watcher's node, in order), never by waiting a fixed time.
 */
import { spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Cluster } from 'ioredis'
import { createKeySpace, type KeySpace } from '../../src/redis/keys.js'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { startNodeProcess } from '../helpers/process.js'
import { clusterClient, uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'
import { startRedisServer, withRedis } from '../support/redis-cluster.js'

const TOKEN = 'test-admin-token-0123456789'

let redis: TestRedis
let topo: Topology
let inspect: Cluster
let prefix: string
let keys: KeySpace
let flags: Record<string, string>

before(async () => {
  redis = await useRedisCluster()
  prefix = uniquePrefix()
  keys = createKeySpace(prefix)
  inspect = clusterClient(redis.seeds)
  flags = { redis: redis.seeds.join(','), 'redis-prefix': prefix, 'admin-token': TOKEN }
  topo = await startNodes(2, flags)
})
after(async () => {
  await closeAll()
  await topo.close()
  inspect.disconnect()
  await redis.stop()
})

const httpOf = (t: Topology, i: number): string => `http://127.0.0.1:${t.nodes[i]?.http?.port ?? 0}`

async function call (base: string, path: string, method = 'GET'): Promise<{ status: number, body: any }> {
  const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${TOKEN}` } })
  return { status: res.status, body: await res.json() }
}

function will (topic: string): { topic: string, payload: Buffer, qos: 1, retain: false } {
  return { topic, payload: Buffer.from('will'), qos: 1, retain: false }
}

describe('/ready', () => {
  test('answers 200 on a serving node and 503 while it drains, naming the listeners check', async () => {
    const draining = await startNodes(1, { ...flags, 'drain-batch-size': '1', 'drain-batch-interval-ms': '1000' })
    const base = httpOf(draining, 0)
    const before = await call(base, '/ready')
    assert.equal(before.status, 200, JSON.stringify(before.body))
    assert.equal(before.body.status, 'ready')
    // A connected client keeps the drain going for a batch interval.
    await connect(draining.urls[0] ?? '', { clientId: unique('drained') })
    assert.equal((await call(base, '/admin/drain', 'POST')).status, 200)
    const during = await call(base, '/ready')
    assert.equal(during.status, 503, JSON.stringify(during.body))
    assert.equal(during.body.checks.listeners, false)
    await draining.nodes[0]?.closed
  })

  test('answers 503 naming the redis check while Redis is unreachable, and 200 once it is back', async (t) => {
    const single = await startRedisServer()
    const port = single.nodes[0]?.port ?? 0
    const started: { node?: Topology, stopped?: boolean, restarted?: ReturnType<typeof spawn> } = {}
    const restartRedis = async (): Promise<void> => {
      started.restarted = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      await until('Redis answers again on its port', async () => await withRedis(port, async r => await r.ping() === 'PONG').catch(() => false), 10_000, { intervalMs: 100 })
    }
    // The node stops first, while its Redis answers (a node whose Redis is gone takes long
    // to stop: if the test failed while Redis was down, Redis comes back first); then Redis.
    t.after(async () => {
      if (started.stopped === true && started.restarted === undefined) await restartRedis()
      await started.node?.close()
      started.restarted?.kill('SIGKILL')
      await single.stop()
    })
    const node = started.node = await startNodes(1, { redis: `127.0.0.1:${port}`, 'redis-prefix': uniquePrefix() })
    const base = httpOf(node, 0)
    assert.equal((await call(base, '/ready')).status, 200)

    await single.stop()
    started.stopped = true
    let seen: { status: number, body: any } | undefined
    await until('/ready answers 503 with redis false', async () => {
      seen = await call(base, '/ready')
      return seen.status === 503 && seen.body.checks.redis === false
    }, 10_000, { intervalMs: 50 }).catch(() => assert.fail(`last /ready: ${JSON.stringify(seen)}`))
    assert.equal(seen?.body.status, 'not ready')
    assert.equal((await fetch(base + '/health')).status, 200, '/health still answers 200')

    await restartRedis()
    await until('/ready answers 200 again', async () => {
      seen = await call(base, '/ready')
      return seen.status === 200
    }, 30_000, { intervalMs: 100 }).catch(() => assert.fail(`last /ready: ${JSON.stringify(seen)}`))
  })
})

describe('shutdown', () => {
  test('a node that cannot finish a graceful stop (its Redis gone) exits with status 1 once shutdown.timeoutMs is over', async (t) => {
    const single = await startRedisServer()
    t.after(async () => { await single.stop() })
    const node = await startNodeProcess(['--redis', `127.0.0.1:${single.nodes[0]?.port ?? 0}`, '--redis-prefix', uniquePrefix(), '--shutdown-timeout-ms', '1000', '--log-level', 'info'])
    t.after(async () => { await node.kill('SIGKILL') })
    const base = `http://127.0.0.1:${node.ports.http}`
    await single.stop()
    await until('/ready answers 503', async () => (await fetch(base + '/ready')).status === 503, 10_000, { intervalMs: 50 })
    const exited = new Promise<number | null>(resolve => node.child.once('exit', code => resolve(code)))
    node.child.kill('SIGTERM')
    const code = await Promise.race([exited, new Promise<string>(resolve => setTimeout(() => resolve('still running 30 s after SIGTERM'), 30_000))])
    assert.equal(code, 1)
    assert.ok(node.logs.some(l => l.msg === 'shutdown timed out'), 'logged: shutdown timed out')
  })
})

describe('wills and operator actions', () => {
  test('a drained node closes its clients without publishing their wills, clean or persistent, and hands the persistent sessions over', async () => {
    const drained = await startNodes(1, flags)
    const topic = unique('drain/will')
    const watcher = await connect(topo.urls[0] ?? '')
    const seen = collect(watcher)
    await watcher.subscribeAsync(`${topic}/#`, { qos: 1 })
    const clean = unique('drain-clean')
    const persistent = unique('drain-persistent')
    const clients = [
      await connect(drained.urls[0] ?? '', { clientId: clean, clean: true, will: will(`${topic}/${clean}`) }),
      await connect(drained.urls[0] ?? '', { clientId: persistent, clean: false, will: will(`${topic}/${persistent}`) })
    ]
    // Asked for from another node, as in a rolling restart.
    const member = drained.nodes[0]?.cluster?.memberId ?? ''
    assert.equal((await call(httpOf(topo, 1), `/admin/nodes/${encodeURIComponent(member)}/drain`, 'POST')).status, 200)
    await drained.nodes[0]?.closed
    assert.ok(clients.every(c => !c.connected), 'both clients were closed')

    // The drained node sent its frames to node 0 before it left; a marker from node 1
    // reaches node 0's inbox after them.
    const publisher = await connect(topo.urls[1] ?? '')
    await publisher.publishAsync(`${topic}/marker`, 'marker', { qos: 1 })
    await seen.waitFor(1, 10_000)
    assert.deepEqual(seen.messages.map(m => m.payload), ['marker'], 'no will came before the marker')

    const live = topo.nodes.map(n => n.cluster?.memberId)
    const session = (await call(httpOf(topo, 0), `/sessions/${encodeURIComponent(persistent)}`)).body
    assert.ok(live.includes(session.owner), `the persistent session is owned by a live node (${String(session.owner)})`)
    assert.equal(session.will, false, 'its will is gone: nobody publishes it later')
    assert.equal((await call(httpOf(topo, 0), `/sessions/${encodeURIComponent(clean)}`)).status, 404, 'the clean session is gone')
  })

  test('an admin kick of a persistent session\'s client publishes no will and leaves the session parked, queueing for it', async () => {
    const id = unique('kick-persistent')
    const topic = unique('kick/will')
    const watcher = await connect(topo.urls[0] ?? '')
    const seen = collect(watcher)
    await watcher.subscribeAsync(`${topic}/#`, { qos: 1 })
    const victim = await connect(topo.urls[1] ?? '', { clientId: id, clean: false, will: will(`${topic}/will`) })
    await victim.subscribeAsync(`${topic}/queued`, { qos: 1 })
    const closed = new Promise<void>(resolve => victim.once('close', () => resolve()))
    // Asked of the node the client is connected to (admin.test.ts asks another node).
    const kicked = await call(httpOf(topo, 1), `/admin/clients/${encodeURIComponent(id)}/kick`, 'POST')
    assert.equal(kicked.status, 200)
    assert.equal(kicked.body.node, topo.nodes[1]?.cluster?.memberId)
    await closed

    // A will would have left node 1 for node 0 before this marker, published on node 1.
    const publisher = await connect(topo.urls[1] ?? '')
    await publisher.publishAsync(`${topic}/marker`, 'marker', { qos: 1 })
    await seen.waitFor(1, 10_000)
    assert.deepEqual(seen.messages.map(m => m.payload), ['marker'], 'no will came before the marker')

    await until('the session is parked', async () => await inspect.hget(keys.session(id).meta, 'parked') === '1')
    await publisher.publishAsync(`${topic}/queued`, 'while parked', { qos: 1 })
    let session: any
    await until('the message is queued for the parked session', async () => {
      session = (await call(httpOf(topo, 0), `/sessions/${encodeURIComponent(id)}`)).body
      return session.queued === 1
    }).catch(() => assert.fail(`session: ${JSON.stringify(session)}`))
    assert.equal(session.owner, topo.nodes[1]?.cluster?.memberId)
    assert.equal(session.persistent, true)
    assert.equal(session.connected, false)
    assert.equal(session.will, false)
  })
})
