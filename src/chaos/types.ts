/** What every chaos scenario is given and what each run of one reports. */
import type { ClientPool } from '../bench/clients.js'
import type { Logger } from '../logger.js'
import type { Fleet } from './fleet.js'
import type { RedisTarget } from './redis-target.js'

export interface ChaosOptions {
  /** Scenario names, in the order they run. */
  scenarios: string[]
  runs: number
  /** slotmq nodes to start. */
  nodes: number
  /** QoS 1 publishes per second of the stream. */
  rate: number
  /** Lease of every node (cluster.leaseTtlMs). */
  leaseTtlMs: number
  /** Longest wait for delivery to settle after a fault (ms). */
  settleMs: number
  /** Seeds of a Redis Cluster to use instead of starting one (host:port). */
  redis: string[] | undefined
  /** limits.maxInflight of every node: the in-flight window duplicates must stay within. */
  maxInflight: number
  /** session.queueMax of every node. */
  queueMax: number
  /** Seconds each takeover race lasts. */
  raceSeconds: number
  /** A directory for every node's whole log (one file per node process), or none. */
  nodeLogs?: string | undefined
  /** How to run slotmq: node arguments before `start` (loader flags and the entry file). */
  entry: string[]
}

/** One run of one scenario: the common message counts plus the scenario's own figures. */
export interface RunResult {
  scenario: string
  run: number
  /** QoS 1 publishes sent. */
  published: number
  /** Publishes whose PUBACK arrived. */
  acknowledged: number
  /** Distinct messages delivered to the subscriber. */
  delivered: number
  /** Acknowledged but never delivered. */
  lost: number
  /** Deliveries of a message already delivered. */
  duplicated: number
  /** First deliveries that came after a higher-numbered message of the same topic. */
  outOfOrder: number
  /** Scenario figures (times in ms, counts). */
  figures: Record<string, number | string>
  /** The scenario's own checks: what it promises, and whether it held. */
  checks: Check[]
  /** Whether the run was skipped, and why (e.g. a fault this setup cannot inject). */
  skipped?: string
  durationMs: number
}

export interface Check { name: string, ok: boolean, detail: string }

/** What a scenario run can use: the running nodes, Redis, and the run's settings. */
export interface ChaosContext {
  fleet: Fleet
  redis: RedisTarget
  options: ChaosOptions
  log: Logger
  /** MQTT clients of the run: all closed when it ends. */
  pool: ClientPool
  /** The nodes' Redis key prefix. */
  prefix: string
  /** Unique per run: prefixes topics and client ids. */
  tag: string
}

export interface Scenario {
  name: string
  /** One line for --help and the docs. */
  summary: string
  run: (ctx: ChaosContext, result: RunResult) => Promise<void>
}
