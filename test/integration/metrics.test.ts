/**
 * /metrics of two Redis-backed nodes after real traffic: the latency histograms (seconds,
 * Prometheus naming) have observations, Redis connection states are gauges, labelled
 * counters have their series before the first event, byte counters name the unit after
 * the verb.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { closeAll, collect, connect, unique } from '../helpers/mqtt.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { until } from '../helpers/until.js'

export async function scrape (topo: Topology, i: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${topo.nodes[i]?.http?.port ?? 0}/metrics`)
  assert.equal(res.status, 200)
  return await res.text()
}

/** The value of one sample line (`name{labels} value`), or undefined. */
export function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const HISTOGRAMS = [
  'slotmq_delivery_latency_seconds',
  'slotmq_redis_call_duration_seconds',
  'slotmq_subscribe_propagation_seconds',
  'slotmq_session_open_duration_seconds',
  'slotmq_connect_duration_seconds'
]

describe('/metrics on two Redis-backed nodes', { timeout: 120_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() })
  })
  after(async () => {
    await closeAll()
    await topo.close()
    await redis.stop()
  })

  test('labelled counters have a series for every known label value before any event', async () => {
    const text = await scrape(topo, 0)
    for (const series of [
      'slotmq_auth_refused_total{reason="bad_credentials"}',
      'slotmq_auth_refused_total{reason="not_authorized"}',
      'slotmq_acl_denied_total{action="deliver"}',
      'slotmq_limit_refused_total{limit="inflight"}',
      'slotmq_client_errors_total{reason="malformed_packet"}',
      'slotmq_messages_dropped_total{reason="invalid_topic"}',
      'slotmq_tls_reloads_total{result="failed"}',
      'slotmq_messages_received_total{qos="2"}'
    ]) {
      assert.equal(sample(text, series), 0, series)
    }
    assert.equal(sample(text, 'slotmq_redis_connection_state{role="commands",state="ready"}'), 1)
    assert.equal(sample(text, 'slotmq_redis_connection_state{role="subscriber",state="ready"}'), 1)
    assert.equal(sample(text, 'slotmq_redis_connection_state{role="commands",state="reconnecting"}'), 0)
    assert.match(text, /^slotmq_received_bytes_total \d+$/m)
    assert.match(text, /^slotmq_sent_bytes_total \d+$/m)
    assert.doesNotMatch(text, /slotmq_bytes_(received|sent)_total/)
    assert.match(text, /# HELP slotmq_retained_messages .*max\(\)/)
  })

  test('after traffic across the nodes every latency histogram has observations, in seconds', async () => {
    const topic = unique('metrics')
    const sub = await connect(topo.urls[1] ?? '', { clientId: unique('sub'), clean: false })
    const got = collect(sub)
    await sub.subscribeAsync(`${topic}/#`, { qos: 1 })
    const pub = await connect(topo.urls[0] ?? '')
    for (let i = 0; i < 5; i++) await pub.publishAsync(`${topic}/${i}`, `m${i}`, { qos: 1 })
    await got.waitFor(5)
    // A takeover: the same persistent client id on the other node.
    const id = unique('taken')
    await connect(topo.urls[0] ?? '', { clientId: id, clean: false })
    await connect(topo.urls[1] ?? '', { clientId: id, clean: false })

    const receiving = await scrape(topo, 1)
    const publishing = await scrape(topo, 0)
    for (const name of HISTOGRAMS) {
      assert.match(receiving, new RegExp(`^# TYPE ${name} histogram$`, 'm'), name)
      assert.match(receiving, new RegExp(`^${name}_bucket\\{.*le="0.0005".*\\} \\d+$`, 'm'), `${name}: buckets in seconds`)
    }
    await until('the peer deliveries are counted', async () => (sample(await scrape(topo, 1), 'slotmq_delivery_latency_seconds_count{origin="peer"}') ?? 0) >= 5, 10_000)
    assert.ok((sample(receiving, 'slotmq_subscribe_propagation_seconds_count') ?? 0) >= 1, 'subscribe propagation')
    assert.ok((sample(receiving, 'slotmq_session_open_duration_seconds_count') ?? 0) >= 2, 'session opens')
    assert.ok((sample(receiving, 'slotmq_connect_duration_seconds_count') ?? 0) >= 2, 'CONNECT to CONNACK')
    assert.ok((sample(receiving, 'slotmq_redis_call_duration_seconds_count{call="session-open"}') ?? 0) >= 2, 'session-open script')
    assert.ok((sample(publishing, 'slotmq_redis_call_duration_seconds_count{call="journal-publish"}') ?? 0) +
      (sample(publishing, 'slotmq_redis_call_duration_seconds_count{call="spublish"}') ?? 0) >= 1, 'frames to the peer')
    assert.equal(sample(publishing, 'slotmq_redis_call_duration_seconds_count{call="node-sweep"}') !== undefined, true, 'a series per script')
  })
})
