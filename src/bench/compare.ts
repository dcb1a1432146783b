/**
 * `slotmq bench compare`: starts, on this machine and in one run, every broker slotmq is
 * measured against, runs the same scenarios against each, prints one table with ratios
 * against slotmq, and stops everything it started.
 *
 * Brokers: plain aedes (in memory), aedes + aedes-persistence-redis + mqemitter-redis on
 * one and two nodes (on the local Redis Cluster), slotmq standalone, slotmq on the Redis
 * Cluster (two nodes), and mosquitto when it is installed. Two-node brokers get
 * publishers on one node and subscribers on the other. Redis-backed brokers also get the
 * commands their Redis executed per delivered message (src/bench/redis-cost.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect as netConnect } from 'node:net'
import { BrokerError, ERR } from '../errors.js'
import { median, renderComparison, type Cell, type Comparison, type MeasureInfo } from './compare-table.js'
import { cpuSeconds } from './cpu.js'
import { freePort, redisServerAvailable, startRedisCluster, type RedisCluster } from './local-redis.js'
import { p2p } from './scenarios/throughput.js'
import { subprop } from './scenarios/subprop.js'
import type { BenchOptions, BenchResult } from './types.js'

interface Target {
  name: string
  pub: string[]
  sub: string[]
  /** The broker's processes, and Redis's for Redis-backed brokers: their CPU is the broker's cost. */
  pids: number[]
  /** Seeds of the broker's Redis: its commands per message are read there. */
  redis?: string[]
}
interface Measure extends MeasureInfo { run: (o: BenchOptions) => Promise<BenchResult>, options: Partial<BenchOptions> }

export const MEASURES: Measure[] = [
  { key: 'p2p-qos0', label: 'p2p QoS 0, max rate', kind: 'throughput', run: p2p, options: { qos: 0, rate: 'max', clients: 10 } },
  { key: 'p2p-qos1', label: 'p2p QoS 1, max rate', kind: 'throughput', run: p2p, options: { qos: 1, rate: 'max', clients: 10 } },
  { key: 'p2p-qos1-persistent', label: 'p2p QoS 1, persistent sessions, max rate', kind: 'throughput', run: p2p, options: { qos: 1, rate: 'max', clients: 10, clean: false } },
  { key: 'latency-2k', label: 'p2p QoS 0 at 2,000 msg/s', kind: 'latency', run: p2p, options: { qos: 0, rate: 2000, clients: 10 } },
  { key: 'latency-2k-persistent', label: 'p2p QoS 0 at 2,000 msg/s, persistent sessions', kind: 'latency', run: p2p, options: { qos: 0, rate: 2000, clients: 10, clean: false } },
  { key: 'subprop', label: 'subscription propagation', kind: 'propagation', run: subprop, options: { qos: 0, clients: 50 } }
]

const AEDES_TARGET = new URL('../../bench/targets/aedes.mjs', import.meta.url).pathname

class Processes {
  readonly #children: ChildProcess[] = []
  readonly #onExit = (): void => { for (const c of this.#children) c.kill('SIGKILL') }
  constructor () { process.once('exit', this.#onExit) }

  /** Starts a broker and waits until it listens on `port`; gives its process id. */
  async start (command: string, args: string[], port: number): Promise<number> {
    const child = spawn(command, args, { stdio: 'ignore' })
    this.#children.push(child)
    const deadline = Date.now() + 20_000
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new BrokerError(ERR.BENCH, `${command} ${args.join(' ')} exited with ${child.exitCode}`)
      if (Date.now() > deadline) throw new BrokerError(ERR.BENCH, `${command} did not listen on ${port} within 20 s`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    return child.pid ?? 0
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.#children.splice(0).map(async child => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }))
    process.off('exit', this.#onExit)
  }
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const s = netConnect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

/** The command that runs this slotmq: the same entry file, with the same loader flags. */
function slotmqCommand (): string[] {
  return [...process.execArgv, process.argv[1] as string]
}

export async function compare (base: BenchOptions & { scenarios?: string[], repeat?: number }, log: (line: string) => void): Promise<Comparison> {
  const measures = MEASURES.filter(m => base.scenarios === undefined || base.scenarios.includes(m.key))
  if (measures.length === 0) throw new BrokerError(ERR.USAGE, `--scenarios: choose from ${MEASURES.map(m => m.key).join(', ')}`)
  const procs = new Processes()
  let redis: RedisCluster | undefined
  const skipped: string[] = []
  const rows: Comparison['rows'] = []
  try {
    const url = (port: number): string => `mqtt://127.0.0.1:${port}`
    const targets: Target[] = []
    const aedesPort = await freePort(0)
    const aedesPid = await procs.start(process.execPath, [AEDES_TARGET, '--port', String(aedesPort)], aedesPort)
    targets.push({ name: 'aedes (memory, 1 node)', pub: [url(aedesPort)], sub: [url(aedesPort)], pids: [aedesPid] })

    const slotmqPort = await freePort(0)
    const slotmqPid = await procs.start(process.execPath, [...slotmqCommand(), 'start', '--host', '127.0.0.1', '--mqtt-port', String(slotmqPort), '--ws-port', 'off', '--http-port', 'off', '--log-level', 'warn'], slotmqPort)
    targets.push({ name: 'slotmq standalone', pub: [url(slotmqPort)], sub: [url(slotmqPort)], pids: [slotmqPid] })

    if (redisServerAvailable()) {
      log('starting a local Redis Cluster (3 masters, 3 replicas)')
      redis = await startRedisCluster()
      const seedList = redis.nodes.map(n => `${n.host}:${n.port}`)
      const seeds = seedList.join(',')
      const stackPorts = [await freePort(0), await freePort(0)]
      try {
        const stackPids: number[] = []
        for (const p of stackPorts) stackPids.push(await procs.start(process.execPath, [AEDES_TARGET, '--port', String(p), '--redis-cluster', seeds], p))
        targets.push({ name: 'aedes + redis stack, 1 node', pub: [url(stackPorts[0] as number)], sub: [url(stackPorts[0] as number)], pids: [stackPids[0] as number, ...redis.pids], redis: seedList })
        targets.push({ name: 'aedes + redis stack, 2 nodes', pub: [url(stackPorts[0] as number)], sub: [url(stackPorts[1] as number)], pids: [...stackPids, ...redis.pids], redis: seedList })
      } catch (err) {
        skipped.push(`aedes + redis stack: ${(err as Error).message} (needs the dev dependencies: npm install)`)
      }
      const clusterPorts = [await freePort(0), await freePort(0)]
      const prefix = `bench-${Date.now().toString(36)}:`
      const clusterPids: number[] = []
      for (const p of clusterPorts) {
        clusterPids.push(await procs.start(process.execPath, [...slotmqCommand(), 'start', '--host', '127.0.0.1', '--mqtt-port', String(p), '--ws-port', 'off', '--http-port', 'off', '--log-level', 'warn', '--redis', seeds, '--redis-prefix', prefix], p))
      }
      targets.push({ name: 'slotmq cluster, 2 nodes', pub: [url(clusterPorts[0] as number)], sub: [url(clusterPorts[1] as number)], pids: [...clusterPids, ...redis.pids], redis: seedList })
    } else {
      skipped.push('Redis targets: redis-server is not installed')
    }

    if (spawnSync('mosquitto', ['-h']).error === undefined) {
      const port = await freePort(0)
      const pid = await procs.start('mosquitto', ['-p', String(port)], port)
      targets.push({ name: 'mosquitto', pub: [url(port)], sub: [url(port)], pids: [pid] })
    } else {
      skipped.push('mosquitto: not installed')
    }

    // Rounds interleave the brokers, so a slow minute on a shared machine does not land on
    // one broker only; each cell is then the median round.
    const rounds = base.repeat ?? 1
    const runs = targets.map(() => measures.map((): Cell[] => []))
    for (let round = 1; round <= rounds; round++) {
      for (const [t, target] of targets.entries()) {
        for (const [i, m] of measures.entries()) {
          log(`${target.name}: ${m.label}${rounds > 1 ? ` (round ${round} of ${rounds})` : ''}`)
          runs[t]?.[i]?.push(await measure(m, target, base))
        }
      }
    }
    for (const [t, target] of targets.entries()) {
      const results: Record<string, Cell> = {}
      for (const [i, m] of measures.entries()) results[m.key] = median(m.kind, runs[t]?.[i] ?? [])
      rows.push({ target: target.name, results })
    }
  } finally {
    await procs.stopAll()
    await redis?.stop()
  }
  const reference = rows.some(r => r.target === 'slotmq cluster, 2 nodes') ? 'slotmq cluster, 2 nodes' : 'slotmq standalone'
  return { measures: measures.map(m => ({ key: m.key, label: m.label, kind: m.kind })), rows, reference, skipped, rounds: base.repeat ?? 1 }
}

async function measure (m: Measure, target: Target, base: BenchOptions): Promise<Cell> {
  try {
    // The user's --redis names no broker started here: each target brings its own.
    const common: BenchOptions = { ...base }
    delete common.redis
    const cpuBefore = cpuSeconds(target.pids)
    const result = await m.run({ ...common, ...m.options, pub: target.pub, sub: target.sub, ...(target.redis === undefined ? {} : { redis: target.redis }) })
    const cpuAfter = cpuSeconds(target.pids)
    if (cpuBefore !== undefined && cpuAfter !== undefined && result.received > 0) {
      result.facts.brokerCpuUsPerMessage = Math.round((cpuAfter - cpuBefore) * 1e6 / result.received)
    }
    return result
  } catch (err) {
    return { error: (err as Error).message }
  }
}

export async function compareCommand (options: BenchOptions & { scenarios?: string[], repeat?: number }, json: boolean): Promise<number> {
  const started = Date.now()
  const result = await compare(options, line => process.stderr.write(`${line}\n`))
  process.stdout.write(json ? JSON.stringify(result, null, 2) + '\n' : renderComparison(result))
  process.stderr.write(`compare finished in ${Math.round((Date.now() - started) / 1000)} s\n`)
  return 0
}
