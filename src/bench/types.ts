/** Options and results shared by every benchmark scenario. */
import type { Percentiles, SecondSample } from './recorder.js'
import type { RedisCost } from './redis-cost.js'

export interface BenchOptions {
  pub: string[]
  sub: string[]
  qos: 0 | 1 | 2
  /** Payload bytes (at least 16: sequence + timestamp). */
  size: number
  /** Total publishes per second across publishers, or 'max'. */
  rate: number | 'max'
  durationS: number
  /** Scenario-specific count: pairs (p2p), subscribers (fanout), publishers (fanin), connections (conn), iterations (subprop, takeover), messages (retained). */
  clients: number | undefined
  clean: boolean
  /** Longest wait for any single step (connect, drain, first delivery). */
  timeoutMs: number
  /**
   * Seeds (host:port or redis:// URLs) of the Redis the brokers use: message-flow
   * scenarios report its commands per delivered message, sessions its memory.
   */
  redis?: string[]
  /** Called about once a second while a run is in progress. */
  progress?: (p: Progress) => void
}

export interface Progress {
  elapsedS: number
  /** Messages sent and received so far (message-flow scenarios). */
  sent?: number
  received?: number
  /** Rates over the last report's interval. */
  sentPerS: number
  receivedPerS: number
  /** Steps done so far of a scenario that counts steps (connections, iterations, sessions). */
  steps?: { done: number, total: number, unit: string }
}

export interface BenchResult {
  scenario: string
  /** What was run, for the report header. */
  settings: Record<string, string | number | boolean>
  durationS: number
  sent: number
  received: number
  expected: number
  lost: number
  duplicated: number
  outOfOrder: number
  errors: number
  sentPerS: number
  receivedPerS: number
  /** End-to-end latency (ms), when messages flowed. */
  latency: Percentiles | undefined
  /** Publish-acknowledgement latency (ms), QoS > 0 only. */
  ack: Percentiles | undefined
  /** Other measured latencies of the scenario (ms), e.g. CONNACK time. */
  timings: Record<string, Percentiles>
  /** Other facts of the scenario (counts, booleans). */
  facts: Record<string, number | string | boolean>
  timeline: SecondSample[]
  /** Latency distribution (percentile, ms), when messages flowed. */
  distribution: Array<[number, number]>
  /** Publish-acknowledgement latency distribution (percentile, ms), QoS > 0 only. */
  ackDistribution?: Array<[number, number]>
  /** Distribution (percentile, ms) of each of `timings`. */
  timingDistributions?: Record<string, Array<[number, number]>>
  /** Commands the brokers' Redis executed while messages flowed (with --redis). */
  redis?: RedisCost
}
