/**
 * Bad input closes the offending connection with a logged, counted reason and costs
 * every other client nothing.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createBroker } from '../../src/broker.js'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { closeAll, collect, connect, connectPacket, rawConnect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { bystander } from '../helpers/limits.js'

describe('bad input on a standalone node', { timeout: 30_000 }, () => {
  let topo: Topology
  let url: string
  before(async () => {
    topo = await startNodes(1, { 'mqtt-max-packet-size': '1024' })
    url = topo.urls[0] as string
  })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  async function clientErrors (reason: string): Promise<number> {
    const text = await topo.nodes[0]?.metrics.registry.getSingleMetricAsString('slotmq_client_errors_total') ?? ''
    const m = new RegExp(`reason="${reason}"\\} (\\d+)`).exec(text)
    return m === null ? 0 : Number(m[1])
  }

  test('garbage bytes instead of CONNECT close that connection', async () => {
    const others = await bystander(url)
    const raw = await rawConnect(url)
    raw.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    await raw.closedByBroker()
    await others.check()
  })

  test('[MQTT-3.1.2-1] a CONNECT with a bad protocol name closes that connection', async () => {
    const others = await bystander(url)
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('p'), { protocolId: 'MQXX' }))
    await raw.closedByBroker()
    assert.equal(raw.packets.length, 0)
    await others.check()
  })

  test('a packet larger than mqtt.maxPacketSize closes that connection and is counted', async () => {
    const others = await bystander(url)
    const before = await clientErrors('packet_too_large')
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('big')))
    await raw.next('connack')
    raw.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(4096), qos: 0, retain: false, dup: false })
    await raw.closedByBroker()
    assert.equal(await clientErrors('packet_too_large'), before + 1)
    await others.check()
  })

  test('[MQTT-1.5.3-1] ill-formed UTF-8 in a topic closes that connection', async () => {
    const others = await bystander(url)
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('utf8')))
    await raw.next('connack')
    // PUBLISH QoS 0, topic of 2 bytes 0xC3 0x28 (an invalid 2-byte sequence), payload "x"
    raw.send(Buffer.from([0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x78]))
    await raw.closedByBroker()
    const errors = await clientErrors('invalid_utf8')
    assert.ok(errors >= 1, `invalid_utf8 client errors counted: ${errors}`)
    await others.check()
  })

  test('[MQTT-1.5.3-2] U+0000 in a topic closes that connection', async () => {
    const others = await bystander(url)
    const before = await clientErrors('invalid_utf8')
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('nul')))
    await raw.next('connack')
    // PUBLISH QoS 0, topic "a" NUL "b" (3 bytes), payload "x"
    raw.send(Buffer.from([0x30, 0x06, 0x00, 0x03, 0x61, 0x00, 0x62, 0x78]))
    await raw.closedByBroker()
    assert.equal(await clientErrors('invalid_utf8'), before + 1)
    await others.check()
  })

  test('[MQTT-1.5.3-1] a well-formed U+FFFD in a topic is a valid character and is delivered', async () => {
    const topic = `fffd/${unique('t')}/\uFFFD`
    const sub = await connect(url)
    const got = collect(sub)
    await sub.subscribeAsync(topic)
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('fffd')))
    await raw.next('connack')
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('ok'), qos: 1, messageId: 7, retain: false, dup: false })
    assert.equal(((await raw.next('puback')) as { messageId?: number }).messageId, 7)
    assert.deepEqual((await got.waitFor(1)).map(m => [m.topic, m.payload]), [[topic, 'ok']])
  })

  test('[MQTT-3.3.2-2] a wildcard in a PUBLISH topic closes that connection', async () => {
    const others = await bystander(url)
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('wild')))
    await raw.next('connack')
    raw.send({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false })
    await raw.closedByBroker()
    await others.check()
  })

  test('a truncated packet followed by a closed socket leaves the node serving', async () => {
    const others = await bystander(url)
    const raw = await rawConnect(url)
    raw.send(connectPacket(unique('trunc')))
    await raw.next('connack')
    raw.socket.end(Buffer.from([0x30, 0x7f, 0x00]))
    await raw.closedByBroker()
    await others.check()
  })
})

test('aedes#754: the broker id is fresh on every start even with the same node id', async () => {
  const ids: string[] = []
  for (let i = 0; i < 2; i++) {
    const config = loadConfig({ flags: { host: '127.0.0.1', 'node-id': 'fixed', 'mqtt-port': '0', 'ws-port': 'off', 'http-port': 'off', 'log-level': 'silent' } })
    const broker = await createBroker(config, { log: createLogger({ level: 'silent', nodeId: 'fixed' }) })
    ids.push(broker.brokerId)
    assert.equal(broker.nodeId, 'fixed')
    await broker.close()
  }
  assert.notEqual(ids[0], ids[1])
})
