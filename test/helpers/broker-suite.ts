/**
 * The broker behaviour suite: what every slotmq topology must do, written once and run
 * against one standalone node and (with the cluster core) against Redis-backed nodes.
 * Publishers connect to the first node, subscribers to the last one.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { clientsOf } from '../../src/aedes/internals.js'
import { closeAll, collect, connect, connectLater, connectPacket, expectNoMore, rawConnect, unique } from './mqtt.js'
import { adminHeaders, type Topology } from './nodes.js'
import { until } from './until.js'

export function brokerSuite (name: string, start: () => Promise<Topology>): void {
  describe(name, { timeout: 30_000 }, () => {
    let topo: Topology
    let pubUrl: string
    let subUrl: string
    before(async () => {
      topo = await start()
      pubUrl = topo.urls[0] as string
      subUrl = topo.urls[topo.urls.length - 1] as string
    })
    afterEach(closeAll)
    after(async () => { await topo.close() })

    test('[MQTT-3.2.2-1] a clean session connect gets CONNACK 0 without Session Present', async () => {
      const client = await connect(subUrl, { clientId: unique('c'), clean: true })
      assert.equal(client.connected, true)
      const raw = await rawConnect(subUrl)
      raw.send(connectPacket(unique('raw')))
      const connack = await raw.next('connack') as { returnCode: number, sessionPresent: boolean }
      assert.equal(connack.returnCode, 0)
      assert.equal(connack.sessionPresent, false)
    })

    test('GET /sessions/<client id> shows a session: subscriptions, queued messages and will, from any node', async () => {
      const clientId = unique('admin {id}/+')
      const topic = unique('admin')
      const c = await connect(subUrl, { clientId, clean: false, will: { topic: `${topic}/will`, payload: Buffer.from('w'), qos: 0, retain: false } })
      await c.subscribeAsync(topic, { qos: 1 })
      await c.endAsync()
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'queued', { qos: 1 })
      for (const node of topo.nodes) {
        const url = `http://127.0.0.1:${node.http?.port ?? 0}/sessions/${encodeURIComponent(clientId)}`
        let body: Record<string, unknown> = {}
        await until('the session shows its queued message', async () => {
          const res = await fetch(url, { headers: adminHeaders })
          assert.equal(res.status, 200)
          body = await res.json() as Record<string, unknown>
          return body.queued === 1
        }, 5000, { intervalMs: 20, observed: () => body })
        assert.equal(body.clientId, clientId)
        assert.equal(body.persistent, true)
        assert.equal(body.connected, false)
        assert.equal(body.queued, 1)
        assert.equal(body.will, false, 'a clean DISCONNECT deletes the will [MQTT-3.1.2-10]')
        assert.deepEqual((body.subscriptions as Array<{ topic: string, qos: number }>).map(s => [s.topic, s.qos]), [[topic, 1]])
      }
      const missing = await fetch(`http://127.0.0.1:${topo.nodes[0]?.http?.port ?? 0}/sessions/${encodeURIComponent(unique('nobody'))}`, { headers: adminHeaders })
      assert.equal(missing.status, 404)
    })

    for (const qos of [0, 1, 2] as const) {
      test(`a QoS ${qos} publish reaches a QoS ${qos} subscriber`, async () => {
        const topic = unique('qos')
        const sub = await connect(subUrl)
        const got = collect(sub)
        await sub.subscribeAsync(topic, { qos })
        const pub = await connect(pubUrl)
        await pub.publishAsync(topic, `hello ${qos}`, { qos })
        const [m] = await got.waitFor(1)
        assert.deepEqual({ topic: m?.topic, payload: m?.payload, qos: m?.qos }, { topic, payload: `hello ${qos}`, qos })
      })
    }

    test('[MQTT-3.8.4-6] a QoS 1 wildcard subscription gets a QoS 2 publish at QoS 1', async () => {
      const base = unique('cap')
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync(`${base}/#`, { qos: 1 })
      const pub = await connect(pubUrl)
      await pub.publishAsync(`${base}/x`, 'capped', { qos: 2 })
      const [m] = await got.waitFor(1)
      assert.equal(m?.qos, 1)
    })

    test('[MQTT-3.3.5-1] overlapping subscriptions deliver at the highest granted QoS', async () => {
      const base = unique('overlap')
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync({ [`${base}/#`]: { qos: 0 }, [`${base}/+`]: { qos: 2 } })
      const pub = await connect(pubUrl)
      await pub.publishAsync(`${base}/a`, 'both', { qos: 2 })
      await got.waitFor(2)
      assert.deepEqual(got.messages.map(m => m.qos).sort(), [0, 2])
    })

    test('aedes#955: every message arrives when an earlier publish is still being stored', async () => {
      // The retained publish gets the lower counter but reaches the emitter later, after
      // the retained store; aedes' duplicate check then dropped it.
      const topic = unique('dup')
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync(topic, { qos: 1 })
      const raw = await rawConnect(pubUrl)
      raw.send(connectPacket(unique('raw-pub')))
      await raw.next('connack')
      raw.send(
        { cmd: 'publish', topic, payload: Buffer.from('first-retained'), qos: 0, retain: true, dup: false },
        { cmd: 'publish', topic, payload: Buffer.from('second-plain'), qos: 0, retain: false, dup: false }
      )
      await got.waitFor(2)
      assert.deepEqual(got.messages.map(m => m.payload).sort(), ['first-retained', 'second-plain'])
      raw.send({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false })
    })

    test('[MQTT-3.3.1-6] a retained message reaches a later subscriber; [MQTT-3.3.1-10] an empty one deletes it', async () => {
      const topic = unique('retained')
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'kept', { qos: 1, retain: true })
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync(topic, { qos: 1 })
      await got.waitFor(1)
      // A copy of the publish still in flight between nodes may also arrive live
      // (retain 0) around the SUBACK; the retained copy must come with retain 1.
      const live = got.messages[0]?.retain === false ? 1 : 0
      const m = (await got.waitFor(1 + live))[live]
      assert.deepEqual({ payload: m?.payload, retain: m?.retain }, { payload: 'kept', retain: true })
      await pub.publishAsync(topic, '', { qos: 1, retain: true })
      // The delete also reaches the current subscriber as an ordinary message; once it
      // has, nothing about it is still in flight between nodes.
      const deleted = (await got.waitFor(2 + live))[1 + live]
      assert.deepEqual({ payload: deleted?.payload, retain: deleted?.retain }, { payload: '', retain: false })
      // The marker: a retained message on another topic, asked for in the same SUBSCRIBE
      // after the deleted one; retained messages are looked up filter by filter, in order.
      const markerTopic = unique('retained-marker')
      await pub.publishAsync(markerTopic, 'marker', { qos: 1, retain: true })
      const late = await connect(subUrl)
      const lateGot = collect(late)
      await expectNoMore(lateGot, 0, { payload: 'marker', send: async () => await late.subscribeAsync({ [topic]: { qos: 1 }, [markerTopic]: { qos: 1 } }) })
      await pub.publishAsync(markerTopic, '', { qos: 1, retain: true })
    })

    test('[MQTT-3.1.2-8] the will is published when the connection drops without DISCONNECT', async () => {
      const topic = unique('will')
      const watcher = await connect(subUrl)
      const got = collect(watcher)
      await watcher.subscribeAsync(topic, { qos: 1 })
      const dying = await connect(pubUrl, { will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } })
      dying.stream.destroy()
      const [m] = await got.waitFor(1)
      assert.equal(m?.payload, 'gone')
    })

    test('[MQTT-3.1.2-10] the will is discarded after DISCONNECT', async () => {
      const topic = unique('nowill')
      const watcher = await connect(subUrl)
      const got = collect(watcher)
      await watcher.subscribeAsync(topic, { qos: 1 })
      const clientId = unique('leaving')
      const leaving = await connect(pubUrl, { clientId, will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } })
      await leaving.endAsync()
      // aedes publishes a will before it unregisters the client; a marker published on the
      // same node after that is forwarded after the will.
      const aedes = topo.nodes[0]?.aedes
      assert.ok(aedes !== undefined, 'the publishers\' node')
      await until('the node has let the client go', () => clientsOf(aedes)[clientId] === undefined, 5000, { observed: () => Object.keys(clientsOf(aedes)) })
      const pub = await connect(pubUrl)
      await expectNoMore(got, 0, { payload: 'marker', send: async () => await pub.publishAsync(topic, 'marker', { qos: 1 }) })
    })

    test('[MQTT-3.1.2-4] a persistent session keeps its subscriptions and queues QoS 1 messages while offline', async () => {
      const topic = unique('persist')
      const clientId = unique('persistent')
      const first = await connect(subUrl, { clientId, clean: false })
      await first.subscribeAsync(topic, { qos: 1 })
      await first.endAsync()
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'while away', { qos: 1 })
      const again = connectLater(subUrl, { clientId, clean: false })
      const got = collect(again.client)
      const connack = await again.connected()
      const [m] = await got.waitFor(1)
      assert.equal(connack.sessionPresent, true)
      assert.deepEqual({ payload: m?.payload, qos: m?.qos }, { payload: 'while away', qos: 1 })
    })

    test('[MQTT-3.2.2-2] a persistent session without subscriptions is reported present', async () => {
      const clientId = unique('nosubs')
      const first = await rawConnect(subUrl)
      first.send(connectPacket(clientId, { clean: false }))
      assert.equal((await first.next('connack') as { sessionPresent: boolean }).sessionPresent, false)
      first.send({ cmd: 'disconnect' })
      await first.closedByBroker()
      const second = await rawConnect(subUrl)
      second.send(connectPacket(clientId, { clean: false }))
      assert.equal((await second.next('connack') as { sessionPresent: boolean }).sessionPresent, true)
    })

    test('[MQTT-3.3.1-1][MQTT-4.4.0-1] an unacknowledged QoS 1 message is sent again on reconnect, with DUP set', async () => {
      const clientId = unique('redeliver')
      const topic = unique('redeliver')
      const first = await rawConnect(subUrl)
      first.send(connectPacket(clientId, { clean: false }))
      await first.next('connack')
      first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as Parameters<typeof first.send>[0])
      await first.next('suback')
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'unacked', { qos: 1 })
      const sent = await first.next('publish') as { dup: boolean, messageId: number, payload: Buffer }
      assert.equal(sent.dup, false)
      first.socket.destroy()
      const second = await rawConnect(subUrl)
      second.send(connectPacket(clientId, { clean: false }))
      assert.equal((await second.next('connack') as { sessionPresent: boolean }).sessionPresent, true)
      const again = await second.next('publish') as { dup: boolean, messageId: number, payload: Buffer }
      assert.deepEqual({ dup: again.dup, messageId: again.messageId, payload: again.payload.toString() }, { dup: true, messageId: sent.messageId, payload: 'unacked' })
    })

    test('[MQTT-3.1.2-6] a clean session connect discards the previous persistent session', async () => {
      const clientId = unique('cleaned')
      const first = await connect(subUrl, { clientId, clean: false })
      await first.subscribeAsync(unique('t'), { qos: 1 })
      await first.endAsync()
      await (await connect(subUrl, { clientId, clean: true })).endAsync()
      const raw = await rawConnect(subUrl)
      raw.send(connectPacket(clientId, { clean: false }))
      assert.equal((await raw.next('connack') as { sessionPresent: boolean }).sessionPresent, false)
    })

    test('[MQTT-3.10.4-6] after UNSUBSCRIBE no more messages arrive', async () => {
      const topic = unique('unsub')
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync(topic, { qos: 1 })
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'one', { qos: 1 })
      await got.waitFor(1)
      const markerTopic = unique('unsub-marker')
      await sub.subscribeAsync(markerTopic, { qos: 1 })
      await sub.unsubscribeAsync(topic)
      await pub.publishAsync(topic, 'two', { qos: 1 })
      // The same publisher's next message, to a topic the subscriber still has: after 'two'.
      await expectNoMore(got, 1, { payload: 'marker', send: async () => await pub.publishAsync(markerTopic, 'marker', { qos: 1 }) })
    })

    test('[MQTT-3.1.3-8] an empty client id with clean session 0 gets CONNACK 0x02', async () => {
      const raw = await rawConnect(subUrl)
      // mqtt-packet refuses to encode this CONNECT, so it is written byte by byte
      raw.send(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x1e, 0x00, 0x00]))
      assert.equal((await raw.next('connack') as { returnCode: number }).returnCode, 2)
      await raw.closedByBroker()
    })

    test('[MQTT-3.1.3-6] an empty client id with clean session 1 is accepted and can subscribe', async () => {
      const topic = unique('anon')
      const client = await connect(subUrl, { clientId: '', clean: true })
      const got = collect(client)
      await client.subscribeAsync(topic, { qos: 1 })
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'to anonymous', { qos: 1 })
      assert.equal((await got.waitFor(1))[0]?.payload, 'to anonymous')
    })

    test('[MQTT-3.1.2-24] a client silent for 1.5 times its keepalive is disconnected', async () => {
      const raw = await rawConnect(subUrl)
      raw.send(connectPacket(unique('silent'), { keepalive: 1 }))
      await raw.next('connack')
      await raw.closedByBroker(4000)
    })

    test('a malformed packet closes only the connection that sent it', async () => {
      const topic = unique('survivor')
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync(topic, { qos: 1 })
      const bad = await rawConnect(subUrl)
      bad.send(connectPacket(unique('bad')))
      await bad.next('connack')
      bad.send(Buffer.from([0x30, 0x03, 0xff, 0xff, 0x61])) // PUBLISH whose topic length overruns the packet
      await bad.closedByBroker()
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'still here', { qos: 1 })
      assert.equal((await got.waitFor(1))[0]?.payload, 'still here')
    })

    test('MQTT over WebSocket publishes to and receives from TCP clients', async () => {
      const topic = unique('ws')
      const wsSub = await connect(topo.wsUrls[topo.wsUrls.length - 1] as string)
      const got = collect(wsSub)
      await wsSub.subscribeAsync(topic, { qos: 1 })
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'over ws', { qos: 1 })
      assert.equal((await got.waitFor(1))[0]?.payload, 'over ws')
    })
  })
}
