/**
 * `slotmq bench` without brokers: reading INFO commandstats and CLUSTER NODES, the Redis
 * figures in the table and the k6 summary, and the compare table's Redis columns.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BENCH_HELP } from '../../src/bench/command.js'
import { renderComparison, median, type Comparison } from '../../src/bench/compare-table.js'
import { MEASURES } from '../../src/bench/compare.js'
import { k6Summary, renderTable } from '../../src/bench/output.js'
import { costBetween, parseCommandStats, primariesFromClusterNodes, type RedisCost } from '../../src/bench/redis-cost.js'
import type { BenchResult } from '../../src/bench/types.js'

const INFO = [
  '# Commandstats',
  'cmdstat_evalsha:calls=40,usec=900,usec_per_call=22.50,rejected_calls=0,failed_calls=0',
  'cmdstat_spublish:calls=25,usec=80,usec_per_call=3.20,rejected_calls=0,failed_calls=0',
  'cmdstat_client|setname:calls=2,usec=2,usec_per_call=1.00,rejected_calls=0,failed_calls=0',
  'cmdstat_eval:calls=3,usec=300,usec_per_call=100.00,rejected_calls=0,failed_calls=1',
  'cmdstat_fcall_ro:calls=1,usec=9,usec_per_call=9.00,rejected_calls=0,failed_calls=0',
  'cmdstat_info:calls=7,usec=400,usec_per_call=57.14,rejected_calls=0,failed_calls=0',
  ''
].join('\r\n')

function result (over: Partial<BenchResult> = {}): BenchResult {
  return {
    scenario: 'p2p',
    settings: { qos: 1 },
    durationS: 2,
    sent: 1000,
    received: 1000,
    expected: 1000,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    errors: 0,
    sentPerS: 500,
    receivedPerS: 500,
    latency: undefined,
    ack: undefined,
    timings: {},
    facts: {},
    timeline: [],
    distribution: [],
    ...over
  }
}

const cost = (commands: number, scriptCalls: number, messages: number): RedisCost => ({ primaries: 3, commands, scriptCalls, messages })

test('INFO commandstats: calls of every command are summed, subcommands included; script calls are EVAL, EVALSHA and FCALL forms', () => {
  assert.deepEqual(parseCommandStats(INFO), { calls: 78, scriptCalls: 44 })
  assert.deepEqual(parseCommandStats('# Commandstats\r\n'), { calls: 0, scriptCalls: 0 })
})

test('the cost of a phase is the difference of two readings, per delivered message', () => {
  assert.deepEqual(costBetween({ calls: 100, scriptCalls: 10 }, { calls: 2600, scriptCalls: 510 }, 3, 500), cost(2500, 500, 500))
})

test('CLUSTER NODES: primaries that are not failing, an empty address standing for the seed host', () => {
  const nodes = [
    'a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460',
    'b2 127.0.0.1:7002@17002,redis-b master - 0 1 2 connected 5461-10922',
    'c3 127.0.0.1:7003@17003 master,fail - 0 1 3 disconnected',
    'd4 127.0.0.1:7004@17004 slave a1 0 1 1 connected',
    'e5 :7005@17005 master - 0 1 5 connected 10923-16383',
    ''
  ].join('\n')
  assert.deepEqual(primariesFromClusterNodes(nodes, '10.0.0.9'), ['127.0.0.1:7001', '127.0.0.1:7002', '10.0.0.9:7005'])
})

test('with Redis figures, the table and the k6 summary give commands and script calls per delivered message', () => {
  const r = result({ redis: cost(2500, 500, 1000) })
  const table = renderTable(r)
  assert.match(table, /redis commands\s+2,500 {2}\(2\.50 per delivered message; 3 primaries; commands called by scripts included\)/)
  assert.match(table, /redis script calls\s+500 {2}\(0\.50 per delivered message\)/)
  const metrics = k6Summary(r).metrics as Record<string, { type: string, values: Record<string, number> }>
  assert.deepEqual(metrics.redis_commands_per_message, { type: 'gauge', contains: 'default', values: { value: 2.5, min: 2.5, max: 2.5 } })
  assert.equal(metrics.redis_script_calls_per_message?.values.value, 0.5)
  assert.equal(metrics.redis_commands?.values.count, 2500)
  assert.equal(metrics.redis_script_calls?.values.count, 500)
})

test('without Redis figures, or with no message delivered, no per-message figure is reported', () => {
  const plain = k6Summary(result()).metrics as Record<string, unknown>
  assert.equal(Object.keys(plain).some(k => k.startsWith('redis_')), false)
  assert.doesNotMatch(renderTable(result()), /redis/)
  const none = result({ received: 0, redis: cost(30, 0, 0) })
  const metrics = k6Summary(none).metrics as Record<string, unknown>
  assert.deepEqual(Object.keys(metrics).filter(k => k.startsWith('redis_')).sort(), ['redis_commands', 'redis_script_calls'])
  assert.match(renderTable(none), /redis commands\s+30 {2}\(no message delivered;/)
})

function comparison (): Comparison {
  return {
    measures: [
      { key: 'p2p-qos1', label: 'p2p QoS 1, max rate', kind: 'throughput' },
      { key: 'subprop', label: 'subscription propagation', kind: 'propagation' }
    ],
    rows: [
      { target: 'aedes (memory, 1 node)', results: { 'p2p-qos1': result({ receivedPerS: 1000 }), subprop: result() } },
      { target: 'slotmq cluster, 2 nodes', results: { 'p2p-qos1': result({ receivedPerS: 500, redis: cost(9125, 2000, 1000) }), subprop: result() } }
    ],
    reference: 'slotmq cluster, 2 nodes',
    skipped: [],
    rounds: 1
  }
}

test('compare: a scenario with Redis figures gets Redis cmds/msg and scripts/msg columns, blank for brokers without Redis', () => {
  const lines = renderComparison(comparison()).split('\n')
  const cells = (line: string | undefined): string[] => (line ?? '').split('|').slice(1, -1).map(c => c.trim())
  assert.deepEqual(cells(lines[0]), ['broker', 'p2p QoS 1, max rate', 'Redis cmds/msg', 'scripts/msg', 'subscription propagation'])
  assert.deepEqual(cells(lines[2]).slice(2, 4), ['', ''])
  assert.deepEqual(cells(lines[3]).slice(0, 4), ['slotmq cluster, 2 nodes', '500 msg/s 1.00x', '9.13', '2.00'])
  assert.match(lines.join('\n'), /Redis cmds\/msg: commands executed by the Redis primaries per received message, commands called by Lua scripts included/)
})

test('compare: without Redis figures the table has no Redis columns', () => {
  const c = comparison()
  c.rows = c.rows.map(row => ({ ...row, results: { 'p2p-qos1': result(), subprop: result() } }))
  assert.doesNotMatch(renderComparison(c), /Redis cmds\/msg|scripts\/msg/)
})

test('compare: with several rounds a cell, its Redis figures included, is the median round, with losses summed over the rounds', () => {
  const rounds = [
    result({ receivedPerS: 300, lost: 1, redis: cost(3000, 300, 1000) }),
    result({ receivedPerS: 900, lost: 2, redis: cost(9000, 900, 1000) }),
    result({ receivedPerS: 600, lost: 3, redis: cost(6000, 600, 1000) })
  ]
  const m = median('throughput', rounds)
  assert.ok(!('error' in m), 'a median round')
  assert.deepEqual({ receivedPerS: m.receivedPerS, lost: m.lost, commands: m.redis?.commands }, { receivedPerS: 600, lost: 6, commands: 6000 })
  const latency = median('latency', [
    result({ latency: { count: 1, min: 1, mean: 1, p50: 1, p90: 1, p95: 1, p99: 9, p999: 9, max: 9 } }),
    result({ latency: { count: 1, min: 1, mean: 1, p50: 1, p90: 1, p95: 1, p99: 3, p999: 3, max: 3 } }),
    result({ latency: { count: 1, min: 1, mean: 1, p50: 1, p90: 1, p95: 1, p99: 5, p999: 5, max: 5 } })
  ])
  assert.equal('error' in latency ? undefined : latency.latency?.p99, 5)
})

test('bench --help names every compare scenario', () => {
  for (const m of MEASURES) assert.ok(BENCH_HELP.includes(m.key), `--help lists ${m.key}`)
  assert.ok(MEASURES.some(m => m.key === 'latency-2k-persistent' && m.options.clean === false && m.options.rate === 2000), 'latency-2k-persistent: 2,000 msg/s, persistent subscribers')
})
