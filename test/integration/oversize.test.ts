/**
 * Packets over `mqtt.maxPacketSize`, in the cases bad-input.test.ts and limits.test.ts do
 * not cover: an oversized CONNECT, a huge declared length whose body never comes, and an
 * oversized packet over WebSocket. Each closes its own connection only; steady clients on
 * the same node keep publishing QoS 1 to themselves and lose nothing. A packet of exactly
 * the maximum size is accepted.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import { closeAll, collect, connect, connectPacket, rawConnect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { steadyTraffic, type SteadyTraffic } from '../helpers/steady-traffic.js'
import { nextEvent } from '../helpers/until.js'

const MAX_PACKET_SIZE = 4096

describe('packets over mqtt.maxPacketSize', { timeout: 60_000 }, () => {
  let topo: Topology
  let url: string
  let steady: SteadyTraffic
  before(async () => {
    topo = await startNodes(1, { 'mqtt-max-packet-size': String(MAX_PACKET_SIZE) })
    url = topo.urls[0] ?? ''
    steady = await steadyTraffic(url)
  })
  after(async () => {
    await steady.stop()
    await closeAll()
    await topo.close()
  })

  test('a CONNECT larger than the maximum closes the connection without CONNACK', async () => {
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('big-connect'), { will: { topic: 'w', payload: Buffer.alloc(MAX_PACKET_SIZE), qos: 0, retain: false } }))
    await raw.closedByBroker()
    assert.equal(raw.packets.length, 0)
  })

  test('a declared remaining length over the maximum closes the connection before the body is sent', async () => {
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('huge-length')))
    await raw.next('connack')
    // PUBLISH QoS 0 declaring 200 MB (remaining length 0x80 0x84 0xaf 0x5f); nothing follows.
    raw.socket.write(Buffer.from([0x30, 0x80, 0x84, 0xaf, 0x5f]))
    await raw.closedByBroker()
  })

  test('an oversized PUBLISH over WebSocket closes that WebSocket connection', async () => {
    const ws = await connect(topo.wsUrls[0] ?? '', { clientId: unique('ws-big') })
    const closed = nextEvent(ws, 'close', 'the WebSocket connection to close')
    ws.publish('big/ws', Buffer.alloc(MAX_PACKET_SIZE * 2), { qos: 0 })
    await closed
  })

  test('a PUBLISH of exactly the maximum size is delivered', async () => {
    const topic = unique('edge')
    const sub = await connect(url)
    const got = collect(sub)
    await sub.subscribeAsync(topic, { qos: 1 })
    const empty = mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 1, messageId: 1, retain: false, dup: false })
    // The remaining length grows from 1 to 2 bytes past 127, so size the payload for a 3-byte fixed header.
    const payload = Buffer.alloc(MAX_PACKET_SIZE - (empty.length - 2) - 3, 'x')
    assert.equal(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: 1, retain: false, dup: false }).length, MAX_PACKET_SIZE)
    const pub = await connect(url)
    await pub.publishAsync(topic, payload, { qos: 1 })
    assert.equal((await got.waitFor(1))[0]?.payload.length, payload.length)
  })

  test('the steady clients lost no QoS 1 message and the node is healthy', async () => {
    await steady.stop()
    await steady.expectAllDelivered()
    assert.equal((await fetch(`http://127.0.0.1:${topo.nodes[0]?.http?.port ?? 0}/health`)).status, 200)
  })
})
