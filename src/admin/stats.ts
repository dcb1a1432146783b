/**
 * What one node reports about itself ($SYS topics, `GET /admin/nodes`), and, in Redis
 * modes, where every node keeps its latest report: one expiring key per member in the
 * leases' slot, so one MGET reads the whole cluster's.
 */
import type { RedisClient } from '../redis/client.js'
import type { KeySpace } from '../redis/keys.js'
import type { MemberLease } from '../routing/cluster.js'

export interface NodeStats {
  memberId: string
  nodeId: string
  version: string
  uptimeSec: number
  clients: number
  subscriptions: number
  messagesReceived: number
  messagesSent: number
  bytesReceived: number
  bytesSent: number
  retained: number
  draining: boolean
}

/** The counters summed over nodes for cluster totals. */
const SUMMED = ['clients', 'subscriptions', 'messagesReceived', 'messagesSent', 'bytesReceived', 'bytesSent'] as const

export interface ClusterTotals extends Pick<NodeStats, typeof SUMMED[number] | 'retained' | 'uptimeSec'> {
  nodes: number
}

/** Cluster totals: counters summed; retained (one shared store) and uptime (the oldest node) are the largest. */
export function totals (nodes: readonly NodeStats[]): ClusterTotals {
  const sum: ClusterTotals = { nodes: nodes.length, clients: 0, subscriptions: 0, messagesReceived: 0, messagesSent: 0, bytesReceived: 0, bytesSent: 0, retained: 0, uptimeSec: 0 }
  for (const n of nodes) {
    for (const k of SUMMED) sum[k] += n[k]
    sum.retained = Math.max(sum.retained, n.retained)
    sum.uptimeSec = Math.max(sum.uptimeSec, n.uptimeSec)
  }
  return sum
}

export interface MemberView {
  memberId: string
  nodeId: string
  /** Time since its lease was last renewed. */
  leaseAgeMs: number
  /** Time until its lease runs out. */
  leaseExpiresInMs: number
  stats: NodeStats | undefined
}

/** Each member's latest statistics in Redis (Redis modes). */
export class StatsStore {
  readonly #redis: RedisClient
  readonly #keys: KeySpace
  readonly #leases: () => Promise<MemberLease[]>
  readonly #leaseTtlMs: number

  constructor (deps: { redis: RedisClient, keys: KeySpace, leases: () => Promise<MemberLease[]>, leaseTtlMs: number }) {
    this.#redis = deps.redis
    this.#keys = deps.keys
    this.#leases = deps.leases
    this.#leaseTtlMs = deps.leaseTtlMs
  }

  /** Stores this member's statistics for `ttlMs` (a node that stops reporting drops out). */
  async put (stats: NodeStats, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#keys.nodeStats(stats.memberId), JSON.stringify(stats), 'PX', ttlMs)
  }

  /** Every member holding a live lease, oldest member id first, with its statistics. */
  async members (): Promise<MemberView[]> {
    const leases = (await this.#leases()).filter(l => l.deadlineMs >= l.nowMs)
    if (leases.length === 0) return []
    const stored = await this.#redis.mget(...leases.map(l => this.#keys.nodeStats(l.memberId)))
    return leases
      .map((l, i) => ({
        memberId: l.memberId,
        nodeId: l.memberId.split('~')[0] ?? l.memberId,
        leaseAgeMs: Math.max(0, l.nowMs - (l.deadlineMs - this.#leaseTtlMs)),
        leaseExpiresInMs: l.deadlineMs - l.nowMs,
        stats: parseStats(stored[i])
      }))
      .sort((a, b) => a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)
  }
}

function parseStats (text: string | null | undefined): NodeStats | undefined {
  if (text === null || text === undefined) return undefined
  try {
    return JSON.parse(text) as NodeStats
  } catch {
    return undefined
  }
}
