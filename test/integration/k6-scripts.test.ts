/**
 * Every k6 scenario in k6/ runs against real slotmq nodes on the Redis Cluster through
 * the stand-in for k6's modules (test/support/k6), which is written from grafana/xk6-mqtt's
 * source: the same option names and defaults, the same things it cannot do. Each script
 * must meet its own loss and correctness thresholds, record its measurements, count its
 * losses (latency thresholds are for real runs, see k6()) and use nothing the real
 * extension would ignore (the stand-in's `problems`).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { runNode } from '../helpers/process.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'

const ROOT = new URL('../../', import.meta.url)
const RUNNER = new URL('test/support/k6/run.mjs', ROOT).pathname
const REGISTER = new URL('test/support/k6/register.mjs', ROOT).href

interface K6Run { metrics: Record<string, { type: string, values: Record<string, number> }>, thresholds: Record<string, boolean>, skipped: string[], problems: string[], ok: boolean }

/**
 * Runs a script through the stand-in. Latency thresholds are not evaluated (they stay in
 * the scripts for real runs): one-second runs on a shared CI machine say nothing about
 * latency. Loss and correctness thresholds are.
 */
async function k6 (script: string, env: Record<string, string>): Promise<K6Run> {
  const args = ['--import', REGISTER, RUNNER, new URL(script, ROOT).pathname, '--no-time-thresholds', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`])]
  const { code, stdout, stderr } = await runNode(args, { timeoutMs: 60_000 })
  assert.equal(code, 0, `${script} failed: ${stderr}`)
  return JSON.parse(stdout) as K6Run
}

/** VUS, and the messages each publishing VU sends: RATE per second for DURATION. */
const VUS = 2
const MESSAGES = 40
/** main: a measurement the script records; lost: it counts lost messages; received: how many it must receive in all. */
const CASES: Record<string, { main: string, crossNode: boolean, lost: boolean, received?: number }> = {
  'p2p.js': { main: 'mqtt_e2e_latency', crossNode: true, lost: true },
  'fanout.js': { main: 'mqtt_e2e_latency', crossNode: true, lost: true, received: VUS * MESSAGES },
  'fanin.js': { main: 'mqtt_e2e_latency', crossNode: true, lost: true, received: VUS * MESSAGES },
  'conn-storm.js': { main: 'mqtt_connect_time', crossNode: true, lost: false },
  'reconnect-storm.js': { main: 'mqtt_takeover_time', crossNode: true, lost: true },
  'retained-burst.js': { main: 'mqtt_retained_burst_time', crossNode: true, lost: true },
  'sharedsub.js': { main: 'mqtt_e2e_latency', crossNode: true, lost: true, received: VUS * MESSAGES }
}

describe('k6 scenarios', { timeout: 180_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() })
  })
  after(async () => {
    await topo.close()
    await redis.stop()
  })

  test('every script in k6/ has a test case', () => {
    const scripts = readdirSync(new URL('k6/', ROOT)).filter(f => f.endsWith('.js')).sort()
    assert.deepEqual(scripts, Object.keys(CASES).sort())
  })

  test('the stand-in reports what xk6-mqtt ignores and rejects what it rejects', async () => {
    const run = await k6('test/support/k6/fixtures/misuse.js', { MQTT_PUB_URL: topo.urls[0] as string })
    const problems = run.problems.join('\n')
    for (const expected of [
      /new Client\(\): option clientId is not read .*did you mean client_id\?/,
      /new Client\(\): client_id 42 is not a string/,
      /on\(\): unknown event "bogus"/,
      /on\(\): a second error handler replaces the first/,
      /connect\(\): clean_session false has no effect/,
      /connect\(\): option keepAlive is not read .*did you mean keepalive\?/,
      /subscribe\(\): option nl is not read/,
      /publish\(\): option dup is not read/
    ]) assert.match(problems, expected)
    assert.equal(run.problems.length, 8, problems)
    const count = (name: string): number | undefined => run.metrics[name]?.values.count
    assert.equal(count('misuse_qos_exported'), 0, 'the module exports Client only')
    assert.equal(count('misuse_threw'), 3, 'an ArrayBuffer payload and topic arrays are rejected')
    assert.equal(count('misuse_received'), 1, 'a Uint8Array payload is published')
    assert.ok((count('misuse_reconnects') ?? 0) >= 1, 'a Client whose connection was taken over reconnects by itself')
  })

  for (const [script, c] of Object.entries(CASES)) {
    test(`k6/${script} meets its thresholds against slotmq`, async () => {
      const pub = topo.urls[0] as string
      const sub = c.crossNode ? topo.urls[1] as string : pub
      const run = await k6(`k6/${script}`, {
        MQTT_PUB_URL: pub,
        MQTT_SUB_URL: sub,
        VUS: String(VUS),
        DURATION: '1s',
        RATE: String(MESSAGES),
        COUNT: '20',
        PUBLISH_GRACE_MS: '1000',
        INTERVAL_MS: '300',
        // Receivers stop as soon as every message arrived; a loaded machine may need longer.
        DRAIN_MS: '15000',
        RUN_ID: Math.random().toString(36).slice(2, 8)
      })
      assert.deepEqual(run.problems, [], 'the script uses only what xk6-mqtt supports')
      assert.ok((run.metrics[c.main]?.values.count ?? 0) > 0, `${c.main} recorded no samples: ${JSON.stringify(run.metrics[c.main])}`)
      assert.ok(Object.keys(run.thresholds).length > 0, `the script declares thresholds the stand-in evaluates (skipped: ${run.skipped.join(', ')})`)
      assert.deepEqual(Object.entries(run.thresholds).filter(([, ok]) => !ok), [], 'failed thresholds')
      if (c.lost) {
        // Recorded (a script that skipped counting would leave it out), and nothing lost.
        assert.ok(run.metrics.mqtt_lost !== undefined, `mqtt_lost was never recorded; metrics: ${Object.keys(run.metrics).join(' ')}`)
        assert.equal(run.metrics.mqtt_lost.values.count, 0, 'messages lost')
        assert.ok('mqtt_lost: count==0' in run.thresholds, `the loss threshold is evaluated: ${JSON.stringify(run.thresholds)}`)
      }
      if (c.received !== undefined) assert.equal(run.metrics.mqtt_received?.values.count, c.received, 'messages received')
      if (script === 'reconnect-storm.js') assert.ok((run.metrics.mqtt_takeovers?.values.count ?? 0) >= VUS, 'every VU took its session over at least once')
      if (script === 'sharedsub.js') {
        // Three members (the default) on both nodes, round_robin: each got a share.
        assert.equal(run.metrics.mqtt_shared_member_share?.values.count, 3)
        assert.ok((run.metrics.mqtt_shared_member_share?.values.min ?? 0) > 0, `every member of the group received messages: ${JSON.stringify(run.metrics.mqtt_shared_member_share)}`)
      }
    })
  }
})
