/**
 * `slotmq bench`: every scenario runs against real brokers and reports what it measured;
 * bad options exit 2; `bench compare` starts and stops everything itself.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { runScenario, type ScenarioName } from '../../src/bench/command.js'
import type { BenchOptions } from '../../src/bench/types.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { runSlotmq, type CommandRun } from '../helpers/process.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'
import { startRedisServer } from '../support/redis-cluster.js'

async function run (args: string[]): Promise<CommandRun> {
  return await runSlotmq(args, { timeoutMs: 240_000 })
}

/** How many of `seeds` are primaries (ROLE). */
async function primaryCount (seeds: string[]): Promise<number> {
  const roles = await Promise.all(seeds.map(async seed => {
    const r = new Redis({ host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) })
    try {
      return (await r.call('ROLE') as [string])[0]
    } finally {
      r.disconnect()
    }
  }))
  return roles.filter(role => role === 'master').length
}

describe('slotmq bench', { timeout: 300_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let options: BenchOptions
  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() })
    options = { pub: [topo.urls[0] as string], sub: [topo.urls[1] as string], qos: 1, size: 64, rate: 500, durationS: 1, clients: 3, clean: true, timeoutMs: 5000 }
  })
  after(async () => {
    await topo.close()
    await redis.stop()
  })

  test('p2p from the command line prints throughput and latency percentiles, and --json is k6 summary data', async () => {
    const table = await run(['bench', 'p2p', '--pub', topo.urls[0] as string, '--sub', topo.urls[1] as string, '--duration', '1', '--rate', '300', '--clients', '2'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /received\s+300 msg/)
    assert.match(table.stdout, /end-to-end latency ms\s+p50 [\d.]+\s+p95 [\d.]+\s+p99 [\d.]+/)
    assert.match(table.stdout, /lost \/ dup \/ out of order\s+0 \/ 0 \/ 0/)

    const json = await run(['bench', 'p2p', '--pub', topo.urls[0] as string, '--duration', '1', '--rate', '200', '--qos', '1', '--json'])
    assert.equal(json.code, 0, json.stderr)
    const summary = JSON.parse(json.stdout) as { metrics: Record<string, { type: string, values: Record<string, number> }>, state: { testRunDurationMs: number } }
    assert.equal(summary.metrics.mqtt_messages_sent?.values.count, 200)
    assert.equal(summary.metrics.mqtt_messages_received?.values.count, 200)
    assert.equal(summary.metrics.mqtt_e2e_latency?.type, 'trend')
    assert.ok((summary.metrics.mqtt_e2e_latency?.values['p(99)'] ?? -1) > 0, `a p(99) is reported: ${JSON.stringify(summary.metrics.mqtt_e2e_latency?.values)}`)
    assert.equal(summary.metrics.mqtt_ack_latency?.values['p(95)'] !== undefined, true)
    assert.ok(Number.isInteger(summary.state.testRunDurationMs) && summary.state.testRunDurationMs > 0, `k6 summary state: ${JSON.stringify(summary.state)}`)
  })

  for (const scenario of ['p2p', 'fanout', 'fanin'] as const) {
    test(`${scenario} across two cluster nodes: everything expected arrives once, in order`, async () => {
      const r = await runScenario(scenario, { ...options, clients: 5 })
      assert.equal(r.sent, 500)
      assert.equal(r.expected, scenario === 'fanout' ? 2500 : 500)
      assert.deepEqual({ received: r.received, lost: r.lost, duplicated: r.duplicated, outOfOrder: r.outOfOrder }, { received: r.expected, lost: 0, duplicated: 0, outOfOrder: 0 })
      assert.equal(r.latency?.count, r.received, 'one latency sample per message received')
      assert.ok(r.timeline.length >= 1, `timeline: ${JSON.stringify(r.timeline)}`)
    })
  }

  test('p2p QoS 1 with --redis reports the Redis commands of every primary per delivered message, and script calls per message', async () => {
    const r = await run(['bench', 'p2p', '--pub', topo.urls[0] as string, '--sub', topo.urls[1] as string, '--qos', '1', '--duration', '1', '--rate', '200', '--clients', '2',
      '--redis', redis.seeds[0] as string, '--json'])
    assert.equal(r.code, 0, r.stderr)
    type Metric = { type: string, values: Record<string, number> } | undefined
    const summary = JSON.parse(r.stdout) as { metrics: Record<string, Metric>, slotmq: { redis?: { primaries: number, commands: number, scriptCalls: number, messages: number } } }
    const received = summary.metrics.mqtt_messages_received?.values.count ?? 0
    const commands = summary.metrics.redis_commands?.values.count ?? -1
    const scripts = summary.metrics.redis_script_calls?.values.count ?? -1
    const perMessage = summary.metrics.redis_commands_per_message?.values.value ?? -1
    assert.equal(received, 200)
    assert.ok(perMessage > 0, `commands per message: ${JSON.stringify(summary.metrics.redis_commands_per_message)}`)
    assert.equal(perMessage, commands / received, 'commands per message is the commands of the phase over the messages received')
    assert.equal(summary.metrics.redis_script_calls_per_message?.values.value, scripts / received, 'script calls per message likewise')
    assert.ok(scripts >= 0 && scripts <= commands, `script calls ${scripts} are among the ${commands} commands`)
    assert.deepEqual(summary.slotmq.redis, { primaries: await primaryCount(redis.seeds), commands, scriptCalls: scripts, messages: received },
      'one seed leads to every primary of the cluster')
  })

  test('--redis on a single Redis: one the brokers do not use counts no command (the bench\'s own INFO calls are left out), one a node uses counts its commands', async () => {
    const single = await startRedisServer()
    const seed = `${single.nodes[0]?.host ?? ''}:${single.nodes[0]?.port ?? 0}`
    let node: Topology | undefined
    try {
      const idle = await runScenario('p2p', { ...options, clients: 2, redis: [seed] })
      assert.equal(idle.received, 500)
      assert.deepEqual(idle.redis, { primaries: 1, commands: 0, scriptCalls: 0, messages: 500 })

      node = await startNodes(1, { redis: seed, 'redis-prefix': uniquePrefix() })
      const used = await runScenario('p2p', { ...options, pub: node.urls, sub: node.urls, clients: 2, redis: [seed] })
      assert.equal(used.received, 500)
      assert.equal(used.redis?.primaries, 1)
      assert.ok((used.redis?.commands ?? 0) > 0, `commands of a node on this Redis: ${JSON.stringify(used.redis)}`)
    } finally {
      await node?.close()
      await single.stop()
    }
  })

  test('sharedsub: publishers on both nodes into one group of members on both nodes, each message reaches the group once and every member gets a share', async () => {
    const both = [topo.urls[0] as string, topo.urls[1] as string]
    const r = await runScenario('sharedsub', { ...options, pub: both, sub: both, clients: 4, publishers: 2 } as BenchOptions)
    assert.equal(r.sent, 500)
    assert.deepEqual({ expected: r.expected, received: r.received, lost: r.lost, duplicated: r.duplicated, outOfOrder: r.outOfOrder }, { expected: 500, received: 500, lost: 0, duplicated: 0, outOfOrder: 0 })
    assert.equal(String(r.facts.per_member).split(' / ').length, 4)
    assert.ok(Number(r.facts.member_min) > 0, `every member gets a share: ${String(r.facts.per_member)}`)
  })

  test('subprop measures SUBACK to first delivery across nodes, with no timeouts', async () => {
    const r = await runScenario('subprop', { ...options, clients: 10 })
    assert.equal(r.facts.timeouts, 0)
    assert.equal(r.timings.suback_to_first_delivery?.count, 10)
  })

  test('takeover reports CONNACK times, Session Present every time, none of the queued messages lost, and closes the older connection', async () => {
    const r = await runScenario('takeover', { ...options, clients: 3 })
    assert.equal(r.timings.connack_moved?.count, 3)
    assert.equal(r.timings.old_connection_closed?.count, 3)
    assert.deepEqual({ iterations: r.facts.iterations, sessionPresent: r.facts.session_present, lost: r.facts.lost, notClosed: r.facts.old_connection_not_closed },
      { iterations: 3, sessionPresent: 3, lost: 0, notClosed: 0 })
  })

  test('conn opens every connection and reports the connect rate', async () => {
    const r = await runScenario('conn' as ScenarioName, { ...options, clients: 60 })
    assert.deepEqual({ connections: r.facts.connections, failures: r.facts.failures }, { connections: 60, failures: 0 })
    assert.ok(Number(r.facts.connects_per_s) > 0, `the connect rate is reported: ${String(r.facts.connects_per_s)}`)
  })

  test('sessions parks persistent sessions and reports their Redis memory per session', async () => {
    const r = await runScenario('sessions', { ...options, clients: 200, redis: [redis.seeds[0] ?? ''] })
    assert.deepEqual({ sessions: r.facts.sessions, failures: r.facts.failures }, { sessions: 200, failures: 0 })
    assert.ok(Number(r.facts.redis_bytes_per_session) > 0, `bytes per session: ${String(r.facts.redis_bytes_per_session)}`)
  })

  test('retained delivers every retained message to a wildcard subscriber on another node', async () => {
    const r = await runScenario('retained', { ...options, clients: 50 })
    assert.deepEqual({ received: r.facts.received, lost: r.facts.lost }, { received: 50, lost: 0 })
    assert.equal(r.timings.all_messages?.count, 1)
  })

  test('an unknown scenario or a bad option exits 2 with the reason', async () => {
    const unknown = await run(['bench', 'nosuch'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown scenario 'nosuch'/)
    const bad = await run(['bench', 'p2p', '--qos', '3'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--qos must be 0, 1 or 2/)
  })

  test('an unreachable endpoint fails with exit 1 naming it, within the timeout', async () => {
    const r = await run(['bench', 'p2p', '--pub', '127.0.0.1:1', '--timeout', '2', '--duration', '1'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /cannot connect to mqtt:\/\/127\.0\.0\.1:1/)
  })

  test('an endpoint that accepts TCP and never answers fails with exit 1 naming it, within the timeout', async (t) => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => { sockets.add(socket) })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    t.after(() => {
      for (const socket of sockets) socket.destroy()
      silent.close()
    })
    const port = (silent.address() as AddressInfo).port
    // --timeout 2 bounds every wait of the bench; 30 s bounds this test if it does not.
    const r = await runSlotmq(['bench', 'p2p', '--pub', `127.0.0.1:${port}`, '--timeout', '2', '--duration', '1'], { timeoutMs: 30_000 })
    assert.equal(r.code, 1, `exit status (null: still running after 30 s); stderr: ${r.stderr}`)
    assert.match(r.stderr, new RegExp(`cannot connect to mqtt://127\\.0\\.0\\.1:${port}`))
  })

  test('compare starts every broker, runs rounds, prints one table of medians with each broker\'s CPU per message, Redis commands and script calls per message for the Redis-backed ones, and leaves nothing running', async () => {
    const r = await run(['bench', 'compare', '--duration', '1', '--scenarios', 'p2p-qos0', '--repeat', '2'])
    assert.equal(r.code, 0, r.stderr)
    // CPU time is read from /proc, so only Linux shows it.
    const cpu = process.platform === 'linux' ? ' [\\d.]+x, \\d+ µs CPU/msg' : ''
    for (const name of ['aedes (memory, 1 node)', 'slotmq standalone', 'aedes + redis stack, 2 nodes', 'slotmq cluster, 2 nodes']) {
      assert.match(r.stdout, new RegExp(`\\| ${name.replace(/[()+]/g, '\\$&')}\\s+\\| [\\d,]+ msg/s${cpu}`), name)
    }
    const rows = new Map(r.stdout.split('\n').filter(l => l.startsWith('| ')).map(l => {
      const cells = l.split('|').slice(1, -1).map(c => c.trim())
      return [cells[0] ?? '', cells.slice(1)]
    }))
    assert.deepEqual(rows.get('broker'), ['p2p QoS 0, max rate', 'Redis cmds/msg', 'scripts/msg'])
    for (const name of ['aedes + redis stack, 2 nodes', 'slotmq cluster, 2 nodes']) {
      const [, commands = '', scripts = ''] = rows.get(name) ?? []
      assert.match(`${commands} ${scripts}`, /^[\d,]+(\.\d+)? [\d,]+(\.\d+)?$/, `${name}: Redis cmds/msg and scripts/msg`)
      assert.ok(Number(commands.replace(/,/g, '')) > 0, `${name}: Redis cmds/msg '${commands}'`)
    }
    for (const name of ['aedes (memory, 1 node)', 'slotmq standalone']) assert.deepEqual(rows.get(name)?.slice(1), ['', ''], `${name} has no Redis figures`)
    assert.match(r.stdout, /Ratios \(x\) are received msg\/s relative to slotmq cluster, 2 nodes/)
    assert.match(r.stdout, /Each cell is the median of 2 rounds/)
    assert.equal(r.stderr.match(/slotmq cluster, 2 nodes: p2p QoS 0, max rate \(round \d of 2\)/g)?.length, 2)
  })
})
