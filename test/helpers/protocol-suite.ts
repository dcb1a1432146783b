/**
 * The protocol edge, written once and run against every topology (with the cluster
 * core, publishers and subscribers on different nodes): what MQTT 3.1.1 refuses is
 * refused, one copy per subscription, `+` matching an empty level, topic limits answered
 * with SUBACK 0x80, the will of a connection closed by a takeover. Packets that no client
 * library would send are written byte by byte.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Packet } from 'mqtt-packet'
import { closeAll, collect, connect, connectLater, connectPacket, expectNoMore, rawConnect, unique, type RawClient } from './mqtt.js'
import type { Topology } from './nodes.js'
import { until, within } from './until.js'

export interface ProtocolSuiteOptions {
  /** Tests known to fail on this topology, by name, with the reason (run as todo). */
  todo?: Record<string, string>
}

/** Tries of each race: a live + retained pair must show up in none of them. */
const TRIES = 100

export function protocolSuite (name: string, start: () => Promise<Topology>, options: ProtocolSuiteOptions = {}): void {
  describe(name, { timeout: 120_000 }, () => {
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
    const it = (title: string, fn: () => Promise<void>): void => {
      const todo = options.todo?.[title]
      test(title, todo === undefined ? {} : { todo }, fn)
    }

    // --- CONNECT ------------------------------------------------------------------------

    for (const [protocol, level] of [['MQTT', 0], ['MQTT', 6], ['MQTT', 255], ['MQTT', 5], ['MQTT', 3], ['MQIsdp', 4]] as const) {
      it(`[MQTT-3.1.2-2] protocol "${protocol}" level ${level} gets CONNACK 0x01, then the connection is closed`, async () => {
        const raw = await rawConnect(subUrl)
        raw.send(connectBytes({ protocol, level, clientId: unique('level') }))
        assert.equal((await raw.next('connack') as { returnCode: number }).returnCode, 1)
        await raw.closedByBroker()
      })
    }

    it('MQTT 3.1 ("MQIsdp" level 3) and a bridge\'s level (0x84) are accepted', async () => {
      for (const [protocol, level] of [['MQIsdp', 3], ['MQTT', 0x84], ['MQIsdp', 0x83]] as const) {
        const raw = await rawConnect(subUrl)
        raw.send(connectBytes({ protocol, level, clientId: shortId() }))
        assert.equal((await raw.next('connack') as { returnCode: number }).returnCode, 0, `${protocol} ${level}`)
        await raw.ping()
      }
    })

    it('[MQTT-3.1.2-22] a password flag without the user name flag closes the connection', async () => {
      const raw = await rawConnect(subUrl)
      raw.send(connectBytes({ clientId: unique('pw'), flags: 0x40, tail: str('secret') }))
      await closedWithoutConnack(raw)
    })

    it('[MQTT-3.1.2-18] a user name in the payload without its flag closes the connection', async () => {
      const raw = await rawConnect(subUrl)
      raw.send(connectBytes({ clientId: unique('user'), tail: str('alice') }))
      await closedWithoutConnack(raw)
    })

    it('[MQTT-4.7.3-1] a zero-length will topic closes the connection', async () => {
      const raw = await rawConnect(subUrl)
      raw.send(connectBytes({ clientId: unique('will'), flags: 0x04, tail: Buffer.concat([str(''), str('gone')]) }))
      await closedWithoutConnack(raw)
    })

    it('[MQTT-3.1.2-14] will QoS 3, and [MQTT-3.3.2-2] a will topic with a wildcard, close the connection', async () => {
      const qos3 = await rawConnect(subUrl)
      qos3.send(connectBytes({ clientId: unique('will'), flags: 0x04 | 0x18, tail: Buffer.concat([str('w'), str('gone')]) }))
      await closedWithoutConnack(qos3)
      const wildcard = await rawConnect(subUrl)
      wildcard.send(connectBytes({ clientId: unique('will'), flags: 0x04, tail: Buffer.concat([str('w/#'), str('gone')]) }))
      await closedWithoutConnack(wildcard)
    })

    it('MQTT 3.1 CONNACK carries no Session Present: its first byte is reserved', async () => {
      const clientId = shortId() // MQTT 3.1 allows 23 characters
      for (const expected of [0, 0]) {
        const raw = await rawConnect(subUrl)
        raw.send(connectBytes({ protocol: 'MQIsdp', level: 3, clientId, clean: false }))
        const connack = await raw.next('connack') as { returnCode: number, sessionPresent: boolean }
        assert.deepEqual({ returnCode: connack.returnCode, sessionPresent: connack.sessionPresent ? 1 : 0 }, { returnCode: 0, sessionPresent: expected })
        raw.send({ cmd: 'disconnect' })
        await raw.closedByBroker()
      }
      // The same session over MQTT 3.1.1 is present.
      const v311 = await rawConnect(subUrl)
      v311.send(connectPacket(clientId, { clean: false }))
      assert.equal((await v311.next('connack') as { sessionPresent: boolean }).sessionPresent, true)
    })

    // --- packet identifiers, UNSUBSCRIBE, acknowledgements ------------------------------

    it('[MQTT-2.3.1-1] packet identifier 0 in a QoS 1 PUBLISH closes the connection', async () => {
      const raw = await session(subUrl)
      raw.send(Buffer.from([0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x00]))
      await raw.closedByBroker()
    })

    it('[MQTT-3.10.3-2] an UNSUBSCRIBE without a topic filter closes the connection', async () => {
      const raw = await session(subUrl)
      raw.send(Buffer.from([0xa2, 0x02, 0x00, 0x07]))
      await raw.closedByBroker()
      assert.equal(raw.packets.some(p => p.cmd === 'unsuback'), false)
    })

    it('[MQTT-1.5.3] a topic with a control character closes the connection', async () => {
      const raw = await session(subUrl)
      raw.send({ cmd: 'publish', topic: 'a\u0001b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false })
      await raw.closedByBroker()
    })

    for (const [qos, answer, via] of [[1, 'pubcomp', ''], [1, 'pubrec', ''], [2, 'puback', ''], [2, 'pubcomp', ''], [2, 'puback', 'pubrel']] as const) {
      const what = via === 'pubrel' ? 'the PUBREL of a QoS 2 message' : `a QoS ${qos} PUBLISH`
      it(`[MQTT-4.3.${qos + 1}-2] ${answer.toUpperCase()} for ${what} closes the connection`, async () => {
        const { raw, messageId } = await receiveOne(qos)
        if (via === 'pubrel') {
          raw.send({ cmd: 'pubrec', messageId })
          await raw.next('pubrel')
        }
        raw.send({ cmd: answer, messageId } as Packet)
        await raw.closedByBroker()
      })
    }

    it('[MQTT-4.3.3-2] a PUBREC repeated after the PUBREL gets the PUBREL again; an unknown identifier is ignored', async () => {
      const { raw, messageId } = await receiveOne(2)
      raw.send({ cmd: 'pubrec', messageId })
      await raw.next('pubrel')
      raw.send({ cmd: 'pubrec', messageId })
      assert.equal((await raw.next('pubrel') as { messageId: number }).messageId, messageId)
      raw.send({ cmd: 'pubcomp', messageId }, { cmd: 'puback', messageId: messageId === 4242 ? 4243 : 4242 })
      await raw.ping()
      assert.equal(raw.closed, false)
    })

    it('MQTT 3.1: a PUBREL sent again with DUP set is answered', async () => {
      const raw = await rawConnect(pubUrl)
      raw.send(connectBytes({ protocol: 'MQIsdp', level: 3, clientId: shortId() }))
      await raw.next('connack')
      raw.send({ cmd: 'publish', topic: unique('v31'), payload: Buffer.from('x'), qos: 2, messageId: 7, retain: false, dup: false })
      await raw.next('pubrec')
      raw.send(Buffer.from([0x6a, 0x02, 0x00, 0x07]))
      assert.equal((await raw.next('pubcomp') as { messageId: number }).messageId, 7)
    })

    // --- topic limits (default settings) ------------------------------------------------

    it('[MQTT-3.8.4-1] a filter over the level limit gets 0x80, never a close; 256 levels by default are delivered', async () => {
      const base = unique('deep')
      const topic = [base, ...Array.from({ length: 255 }, (_, i) => `l${i}`)].join('/')
      const filter = topic.replace('/l7/', '/+/')
      const raw = await session(subUrl)
      raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: `${topic}/x`, qos: 1 }, { topic: `${base}/${'/'.repeat(1500)}#`, qos: 1 }, { topic: filter, qos: 1 }] } as Packet)
      assert.deepEqual((await raw.next('suback') as { granted: number[] }).granted, [128, 128, 1])
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'deep', { qos: 1 })
      assert.equal((await raw.next('publish') as { topic: string }).topic, topic)
      assert.equal(raw.closed, false)
    })

    // --- '+' and empty levels -----------------------------------------------------------

    it('[MQTT-4.7.1-3] + matches an empty level: live messages, also to a shared subscription', async () => {
      const base = unique('empty')
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync({ [`${base}/+/baz`]: { qos: 1 }, [`${base}/x/+`]: { qos: 1 }, [`$share/g/${base}/s/+`]: { qos: 1 } })
      const pub = await connect(pubUrl)
      for (const topic of [`${base}//baz`, `${base}/x/`, `${base}/s/`]) await pub.publishAsync(topic, topic, { qos: 1 })
      await got.waitFor(3)
      assert.deepEqual(got.messages.map(m => m.topic).sort(), [`${base}//baz`, `${base}/s/`, `${base}/x/`])
    })

    it('[MQTT-4.7.1-3] + matches an empty level in the retained store', async () => {
      const base = unique('empty-retained')
      const pub = await connect(pubUrl)
      await pub.publishAsync(`${base}/topic/`, 'a', { qos: 1, retain: true })
      await pub.publishAsync(`${base}//baz`, 'b', { qos: 1, retain: true })
      const sub = await connect(subUrl)
      const got = collect(sub)
      await sub.subscribeAsync({ [`${base}/topic/+`]: { qos: 1 }, [`${base}/+/baz`]: { qos: 1 } })
      await got.waitFor(2)
      assert.deepEqual(got.messages.map(m => [m.topic, m.retain]).sort(), [[`${base}//baz`, true], [`${base}/topic/`, true]])
      for (const topic of [`${base}/topic/`, `${base}//baz`]) await pub.publishAsync(topic, '', { qos: 1, retain: true })
    })

    it('[MQTT-4.7.1-3] + matches an empty level for a persistent session\'s offline queue', async () => {
      const base = unique('empty-queued')
      const clientId = unique('queued')
      const first = await connect(subUrl, { clientId, clean: false })
      await first.subscribeAsync(`${base}/+/baz`, { qos: 1 })
      await first.endAsync()
      const pub = await connect(pubUrl)
      await pub.publishAsync(`${base}//baz`, 'while away', { qos: 1 })
      const again = connectLater(subUrl, { clientId, clean: false })
      const got = collect(again.client)
      await again.connected()
      assert.equal((await got.waitFor(1))[0]?.topic, `${base}//baz`)
    })

    // --- the will of a connection closed by a takeover ---------------------------------

    for (const [oldClean, newClean] of [[true, true], [false, true], [true, false], [false, false]] as const) {
      const published = oldClean || newClean
      it(`[MQTT-3.1.4-2] a takeover from clean session ${Number(oldClean)} to ${Number(newClean)} ${published ? 'publishes' : 'drops'} the old connection's will (${published ? 'a clean session ends' : 'the session goes on'}), on the same node and from another node`, async () => {
        const topic = unique('takeover-will')
        for (const [where, oldUrl] of [['same node', subUrl], ['other node', pubUrl]] as const) {
          const watcher = await connect(subUrl)
          const seen = collect(watcher)
          await watcher.subscribeAsync(`${topic}/#`, { qos: 1 })
          const clientId = unique('takeover')
          const old = await connect(oldUrl, { clientId, clean: oldClean, will: { topic: `${topic}/will`, payload: Buffer.from(`will ${where}`), qos: 1, retain: false } })
          const closed = new Promise<void>(resolve => old.once('close', () => resolve()))
          const next = connectLater(subUrl, { clientId, clean: newClean })
          await next.connected()
          await within(`the old connection (${where}) is closed by the takeover`, closed, 10_000)
          if (published) {
            await until(`the will (${where}) arrives`, () => seen.messages.some(m => m.payload === `will ${where}`), 10_000, { observed: () => seen.messages })
          }
          // Published by a new client of the old connection's node after that connection
          // closed: a will it published comes before the marker.
          const marker = await connect(oldUrl)
          await expectNoMore(seen, published ? 1 : 0, { payload: `marker ${where}`, send: async () => await marker.publishAsync(`${topic}/marker`, `marker ${where}`, { qos: 1 }) }, 10_000)
          await watcher.endAsync()
        }
      })
    }

    // --- one copy per subscription ------------------------------------------------------

    it(`a retained message published right after a wildcard SUBACK arrives once (${TRIES} tries)`, async () => {
      const base = unique('once')
      const pub = await connect(pubUrl)
      for (let i = 0; i < 30; i++) await pub.publishAsync(`${base}/old/${i}`, `old ${i}`, { qos: 1, retain: true })
      for (let i = 0; i < TRIES; i++) {
        const sub = await connect(subUrl)
        const got = collect(sub)
        await sub.subscribeAsync(`${base}/#`, { qos: 1 })
        await pub.publishAsync(`${base}/new/${i}`, `new ${i}`, { qos: 1, retain: true })
        // Published after it by the same client on the same topic: every copy of `new i`
        // that arrives at all arrives before it.
        await pub.publishAsync(`${base}/new/${i}`, `marker ${i}`, { qos: 1 })
        await until(`marker ${i} arrives`, () => got.messages.some(m => m.payload === `marker ${i}`), 10_000, { observed: () => got.messages.length })
        const copies = got.messages.filter(m => m.payload === `new ${i}`)
        assert.equal(copies.length, 1, `try ${i}: ${copies.length} copies of the new message`)
        const seen = got.messages.map(m => `${m.topic} ${m.payload}`)
        assert.equal(new Set(seen).size, seen.length, `try ${i}: a message twice`)
        assert.equal(got.messages.filter(m => m.retain).length, 30 + i + (copies[0]?.retain === true ? 1 : 0), `try ${i}: every retained message once`)
        await sub.endAsync()
      }
    })

    it(`a QoS 0 retained PUBLISH followed by a SUBSCRIBE in the same TCP write arrives once, as retained (${TRIES} tries)`, async () => {
      const raw = await session(subUrl)
      for (let i = 0; i < TRIES; i++) {
        const topic = unique('same-write')
        raw.send(
          { cmd: 'publish', topic, payload: Buffer.from(`r ${i}`), qos: 0, retain: true, dup: false },
          { cmd: 'subscribe', messageId: i + 1, subscriptions: [{ topic, qos: 0 }] } as Packet
        )
        await raw.next('suback')
        raw.send({ cmd: 'publish', topic, payload: Buffer.from(`marker ${i}`), qos: 0, retain: false, dup: false })
        await until(`marker ${i} arrives`, () => raw.packets.some(p => p.cmd === 'publish' && p.payload.toString() === `marker ${i}`), 5000)
        const copies = raw.packets.filter((p): p is Packet & { cmd: 'publish', retain: boolean } => p.cmd === 'publish' && p.payload.toString() === `r ${i}`)
        assert.deepEqual(copies.map(p => p.retain), [true], `try ${i}`)
        raw.packets.length = 0
        raw.send({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false })
      }
    })

    /** A raw connection to `url` whose CONNECT was accepted. */
    async function session (url: string): Promise<RawClient> {
      const raw = await rawConnect(url)
      raw.send(connectPacket(unique('raw')))
      await raw.next('connack')
      return raw
    }

    /** A raw subscriber on the subscribers' node that has received one QoS `qos` message. */
    async function receiveOne (qos: 1 | 2): Promise<{ raw: RawClient, messageId: number }> {
      const topic = unique('ack')
      const raw = await session(subUrl)
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] } as Packet)
      await raw.next('suback')
      const pub = await connect(pubUrl)
      await pub.publishAsync(topic, 'acknowledge me', { qos })
      const publish = await raw.next('publish') as { messageId: number, qos: number }
      assert.equal(publish.qos, qos)
      return { raw, messageId: publish.messageId }
    }
  })
}

/** A client id MQTT 3.1 accepts (1 to 23 characters). */
function shortId (): string {
  return `v31-${Math.random().toString(36).slice(2, 12)}`
}

async function closedWithoutConnack (raw: RawClient): Promise<void> {
  await raw.closedByBroker()
  assert.equal(raw.packets.some(p => p.cmd === 'connack'), false)
}

function str (value: string): Buffer {
  const bytes = Buffer.from(value)
  const length = Buffer.alloc(2)
  length.writeUInt16BE(bytes.length)
  return Buffer.concat([length, bytes])
}

/**
 * A CONNECT as bytes: `flags` are the connect flags besides clean session (set unless
 * `clean` is false); `tail` follows the client id.
 */
function connectBytes (o: { protocol?: string, level?: number, clientId: string, clean?: boolean, flags?: number, tail?: Buffer }): Buffer {
  const flags = (o.flags ?? 0) | (o.clean === false ? 0 : 0x02)
  const body = Buffer.concat([str(o.protocol ?? 'MQTT'), Buffer.from([o.level ?? 4, flags, 0x00, 0x1e]), str(o.clientId), o.tail ?? Buffer.alloc(0)])
  const length: number[] = []
  let n = body.length
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    length.push(byte)
  } while (n > 0)
  return Buffer.concat([Buffer.from([0x10, ...length]), body])
}
