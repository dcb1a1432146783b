/**
 * Fuzzing one node: for a bounded time, many short-lived TCP connections send random
 * bytes and mutated MQTT packets (flipped bits, inserted bytes, truncation, bad and huge
 * remaining lengths, bad flags, ill-formed UTF-8, packets before CONNECT, a second
 * CONNECT) while well-behaved clients on the same node publish QoS 1 to themselves.
 * The node must stay up and the well-behaved clients must get every acknowledged message.
 *
 * FUZZ_SECONDS sets the fuzzing time of each run (default 8 s standalone, 6 s on Redis);
 * FUZZ_SEED replays a run (the seed is printed at the start of every run).
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connectionSeed, fuzzConnection, fuzzScript, fuzzSeed, Rng } from '../helpers/fuzz.js'
import { closeAll } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { steadyTraffic } from '../helpers/steady-traffic.js'
import { until } from '../helpers/until.js'

const WORKERS = 12
/** How long a fuzz connection waits for the broker to close it before closing itself. */
const GRACE_MS = 200

function fuzzMs (defaultSec: number): number {
  const sec = Number(process.env.FUZZ_SECONDS ?? '')
  return (Number.isFinite(sec) && sec > 0 ? sec : defaultSec) * 1000
}

interface FuzzReport { connections: number, closedByBroker: number, bytes: number }

async function fuzz (port: number, seed: number, durationMs: number): Promise<FuzzReport> {
  const report: FuzzReport = { connections: 0, closedByBroker: 0, bytes: 0 }
  const deadline = Date.now() + durationMs
  let next = 0
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const n = next++
      const rng = new Rng(connectionSeed(seed, n))
      const outcome = await fuzzConnection(port, fuzzScript(rng, `fz-${seed}-${n}`), GRACE_MS)
      report.connections++
      report.bytes += outcome.bytes
      if (outcome.closedByBroker) report.closedByBroker++
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, worker))
  return report
}

/** Fuzzes node 0 of `topo` alongside steady traffic, then checks the node and the traffic. */
async function fuzzNode (topo: Topology, label: string, durationMs: number): Promise<void> {
  const node = topo.nodes[0]
  assert.ok(node !== undefined, 'a node')
  const seed = fuzzSeed()
  console.log(`fuzz ${label}: seed ${seed} (replay with FUZZ_SEED=${seed}), ${durationMs / 1000} s, ${WORKERS} connections at a time`)
  const steady = await steadyTraffic(topo.urls[0] ?? '')
  const report = await fuzz(node.mqtt.port, seed, durationMs)
  const acked = await steady.stop()
  console.log(`fuzz ${label}: ${report.connections} connections, ${report.bytes} bytes sent, ` +
    `${report.closedByBroker} closed by the broker, ${report.connections - report.closedByBroker} left open until the client gave up; ` +
    `steady publisher: ${acked} QoS 1 messages acknowledged`)

  await steady.expectAllDelivered()
  const health = await fetch(`http://127.0.0.1:${node.http?.port ?? 0}/health`)
  assert.equal(health.status, 200)
  // Every fuzz connection is gone from the node: only the two steady clients remain.
  await until('only the steady clients are connected', () => node.aedes.connectedClients === 2, 10_000)
}

describe('fuzzing a standalone node', { timeout: 120_000 }, () => {
  let topo: Topology
  before(async () => { topo = await startNodes(1) })
  afterEach(closeAll)
  after(async () => { await topo.close() })

  test('random and mutated packets on many connections leave the node serving and lose no QoS 1 message of a steady client', async () => {
    await fuzzNode(topo, 'standalone', fuzzMs(8))
  })
})

describe('fuzzing a node on the Redis Cluster', { timeout: 120_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  before(async () => {
    redis = await useRedisCluster()
    // Fuzzed CONNECTs with clean session 0 leave sessions behind: let them expire soon.
    topo = await startNodes(1, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix(), 'session-expiry': '60' })
  })
  afterEach(closeAll)
  after(async () => {
    await topo.close()
    await redis.stop()
  })

  test('random and mutated packets on many connections leave a Redis-backed node serving and lose no QoS 1 message of a steady client', async () => {
    await fuzzNode(topo, 'redis-cluster', fuzzMs(6))
  })
})
