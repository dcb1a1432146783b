/**
 * A connection flood against one node: 1,500 raw sockets opened as fast as the machine
 * allows, half of them sending CONNECT and half never sending anything, while steady
 * clients on the same node publish QoS 1 to themselves. Silent sockets are closed by the
 * node (connect timeout), CONNECTs are answered, and the steady clients lose nothing.
 * With the per-node limits set (limits.maxConnections, limits.connectionRate), the
 * refusals show in slotmq_limit_refused_total.
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as netConnect } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { closeAll, connectPacket, unique } from '../helpers/mqtt.js'
import type { Broker } from '../../src/broker.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { steadyTraffic, type SteadyTraffic } from '../helpers/steady-traffic.js'
import { until } from '../helpers/until.js'

const FLOOD = 1500
/** Sockets being opened at once (the listen backlog is 511). */
const BATCH = 250
const CONNECT_TIMEOUT_MS = 2000

type Ending = 'connack 0' | 'connack 3' | 'closed before connack' | 'closed silent' | 'still open'

interface FloodSocket { ending: () => Ending, destroy: () => void }

/** One flood socket: sends CONNECT when `speaks`, and records how the node treats it. */
async function floodSocket (port: number, speaks: boolean): Promise<FloodSocket> {
  const socket = netConnect(port, '127.0.0.1')
  let ending: Ending = 'still open'
  let received = Buffer.alloc(0)
  socket.on('error', () => {})
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk])
    // CONNACK: 0x20 0x02 <session present> <return code>
    if (ending === 'still open' && received.length >= 4 && received[0] === 0x20) ending = `connack ${received[3] ?? '?'}` as Ending
  })
  socket.on('close', () => {
    if (ending === 'still open') ending = speaks ? 'closed before connack' : 'closed silent'
  })
  await new Promise<void>(resolve => socket.once('connect', () => resolve()).once('close', () => resolve()))
  if (speaks && !socket.destroyed) socket.write(mqttPacket.generate(connectPacket(unique('flood'), { keepalive: 0 })))
  return {
    ending: () => ending,
    destroy: () => {
      socket.removeAllListeners('close')
      socket.destroy()
    }
  }
}

async function flood (port: number): Promise<FloodSocket[]> {
  const sockets: FloodSocket[] = []
  for (let i = 0; i < FLOOD; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, FLOOD - i) }, async (_, j) => await floodSocket(port, (i + j) % 2 === 0))
    sockets.push(...await Promise.all(batch))
  }
  return sockets
}

function tally (sockets: FloodSocket[]): Record<Ending, number> {
  const counts: Record<Ending, number> = { 'connack 0': 0, 'connack 3': 0, 'closed before connack': 0, 'closed silent': 0, 'still open': 0 }
  for (const s of sockets) counts[s.ending()]++
  return counts
}

/** slotmq_limit_refused_total{limit} as GET /metrics shows it. */
/** Floods the node while a steady client publishes QoS 1; returns once every flood socket is answered or closed. */
async function floodWhileSteady (topo: Topology): Promise<{ node: Broker, steady: SteadyTraffic, sockets: FloodSocket[], counts: Record<Ending, number>, acked: number }> {
  const node = topo.nodes[0]
  assert.ok(node !== undefined, 'a node')
  const steady = await steadyTraffic(topo.urls[0] ?? '')
  const sockets = await flood(node.mqtt.port)
  // A flood larger than the listen backlog (511) overflows the kernel's accept queue: the
  // client sees its socket open while the node has not accepted it yet, and Linux resends
  // the SYN-ACK 1, 3, 7, 15 and 31 s later, so a node slow to accept on a busy machine
  // may only get such a socket half a minute later (then answers or closes it).
  await until('every flood socket was answered or closed', () => tally(sockets)['still open'] === 0, CONNECT_TIMEOUT_MS + 45_000,
    { observed: () => tally(sockets) })
  const counts = tally(sockets)
  const acked = await steady.stop()
  return { node, steady, sockets, counts, acked }
}

/** After the flood: the steady client lost nothing, only it is connected, the node answers. */
async function steadyClientsUnharmed (node: Broker, steady: SteadyTraffic, sockets: FloodSocket[]): Promise<void> {
  for (const s of sockets) s.destroy()
  await steady.expectAllDelivered()
  await until('only the steady clients are connected', () => node.aedes.connectedClients === 2, 10_000)
  assert.equal((await fetch(`http://127.0.0.1:${node.http?.port ?? 0}/health`)).status, 200)
}

async function refusals (topo: Topology, limit: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${topo.nodes[0]?.http?.port ?? 0}/metrics`)).text()
  const m = new RegExp(`slotmq_limit_refused_total\\{limit="${limit}"\\} (\\d+)`).exec(text)
  return m === null ? 0 : Number(m[1])
}

describe('a connection flood', { timeout: 240_000 }, () => {
  afterEach(closeAll)

  describe('on a node without limits', () => {
    let topo: Topology
    before(async () => { topo = await startNodes(1, { 'mqtt-connect-timeout-ms': String(CONNECT_TIMEOUT_MS) }) })
    after(async () => { await topo.close() })

    test('every CONNECT is answered, every silent socket is closed by the node, and a steady client loses no QoS 1 message', async () => {
      const { node, steady, sockets, counts, acked } = await floodWhileSteady(topo)
      console.log(`flood without limits: ${FLOOD} sockets, ${JSON.stringify(counts)}; steady publisher: ${acked} acknowledged`)
      assert.equal(counts['connack 0'], FLOOD / 2)
      assert.equal(counts['closed silent'], FLOOD / 2)
      await steadyClientsUnharmed(node, steady, sockets)
    })
  })

  describe('on a node with limits.maxConnections and limits.connectionRate', () => {
    const MAX_CONNECTIONS = 300
    const CONNECTION_RATE = 200
    let topo: Topology
    after(async () => { await topo.close() })
    before(async () => {
      topo = await startNodes(1, {
        'mqtt-connect-timeout-ms': String(CONNECT_TIMEOUT_MS),
        'max-connections': String(MAX_CONNECTIONS),
        'connection-rate': String(CONNECTION_RATE)
      })
    })

    test('connections beyond the limits are refused and counted in /metrics, and a steady client loses no QoS 1 message', async () => {
      const { node, steady, sockets, counts, acked } = await floodWhileSteady(topo)
      const byRate = await refusals(topo, 'connection_rate')
      const byCount = await refusals(topo, 'connections')
      console.log(`flood with limits (max ${MAX_CONNECTIONS} connections, ${CONNECTION_RATE}/s per address): ${JSON.stringify(counts)}; ` +
        `refused by connection_rate ${byRate}, by connections ${byCount}; steady publisher: ${acked} acknowledged`)
      // How many connections the rate refuses depends on how fast this machine opens them;
      // what it refused must show as closed sockets: a speaking socket closed without an
      // answer was refused by the rate (nothing else closes one before CONNACK), and a
      // refused silent socket is among those closed silent.
      assert.equal(counts['connack 0'] + counts['connack 3'] + counts['closed before connack'], FLOOD / 2, `every speaking socket is answered or closed: ${JSON.stringify(counts)}`)
      assert.ok(byRate >= counts['closed before connack'], `each speaking socket closed unanswered is a counted rate refusal: ${byRate} refusals, ${counts['closed before connack']} closed`)
      assert.ok(byRate <= counts['closed before connack'] + counts['closed silent'], `each rate refusal closed a socket: ${byRate} refusals, ${JSON.stringify(counts)}`)
      assert.equal(byCount, counts['connack 3'], 'every CONNACK 0x03 is counted')
      assert.ok(counts['connack 0'] <= MAX_CONNECTIONS - 2, `no more clients than the limit (2 places held by the steady clients): ${counts['connack 0']}`)
      await steadyClientsUnharmed(node, steady, sockets)
    })
  })
})
