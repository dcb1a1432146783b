/**
 * Route table: which peer members have subscribers for which topic filters. Read on
 * every publish, so it lives in memory (a qlobber trie); kept current by route deltas,
 * each numbered per sender so that a gap is noticed and repaired by a reload.
 */
import { QlobberDedup } from 'qlobber'
import { filterSees, TOPIC_MATCHING } from '../topics.js'
import type { RouteChange } from './frames.js'
import { parseShareEntry, shareKey } from './shared.js'

/** Members of one shared group (group, filter) on the peers: member id → member count. */
export interface SharedRoute { readonly key: string, readonly group: string, readonly filter: string, readonly nodes: Map<string, number> }

export type DeltaOutcome = 'applied' | 'stale' | 'gap' | 'unknown'

interface PeerRoutes { seq: number, filters: Set<string> }

/** Topics whose match is remembered; past this many the memory starts over. */
const MATCH_CACHE_SIZE = 10_000

export class RouteTable {
  readonly #peers = new Map<string, PeerRoutes>()
  // Same matching rules as aedes' own emitter (mqemitter): '/' levels, '+', '#',
  // empty levels match. Over-matching is harmless: the receiving node matches again.
  readonly #index = new QlobberDedup<string>(TOPIC_MATCHING)
  // Shared groups: their inner filter → group key, and per key the peers' member counts.
  readonly #sharedIndex = new QlobberDedup<string>(TOPIC_MATCHING)
  readonly #shared = new Map<string, SharedRoute>()
  // Publishes repeat topics (telemetry, request/reply), routes change rarely: a topic's
  // members are remembered until the next route change.
  readonly #matched = new Map<string, ReadonlySet<string>>()

  /** Number of shared groups with members on some peer (0: publishes skip the shared path). */
  get sharedSize (): number { return this.#shared.size }

  /** Members whose routes are loaded. */
  members (): IterableIterator<string> {
    return this.#peers.keys()
  }

  has (memberId: string): boolean {
    return this.#peers.has(memberId)
  }

  seqOf (memberId: string): number | undefined {
    return this.#peers.get(memberId)?.seq
  }

  filtersOf (memberId: string): ReadonlySet<string> {
    return this.#peers.get(memberId)?.filters ?? new Set()
  }

  /** Applies delta `seq` from a member, if it is the next one expected. */
  apply (memberId: string, seq: number, changes: readonly RouteChange[]): DeltaOutcome {
    const peer = this.#peers.get(memberId)
    if (peer === undefined) return 'unknown'
    if (seq <= peer.seq) return 'stale'
    if (seq !== peer.seq + 1) return 'gap'
    for (const c of changes) {
      if (c.add && !peer.filters.has(c.filter)) {
        peer.filters.add(c.filter)
        this.#add(c.filter, memberId)
      } else if (!c.add && peer.filters.delete(c.filter)) {
        this.#remove(c.filter, memberId)
      }
    }
    peer.seq = seq
    return 'applied'
  }

  /** Replaces a member's routes with a snapshot read from Redis. */
  replace (memberId: string, seq: number, filters: Iterable<string>): void {
    this.drop(memberId)
    const set = new Set(filters)
    for (const f of set) this.#add(f, memberId)
    this.#peers.set(memberId, { seq, filters: set })
  }

  drop (memberId: string): boolean {
    const peer = this.#peers.get(memberId)
    if (peer === undefined) return false
    for (const f of peer.filters) this.#remove(f, memberId)
    this.#peers.delete(memberId)
    return true
  }

  /** Members with at least one filter matching `topic` (shared: do not change it). */
  match (topic: string): ReadonlySet<string> {
    let members = this.#matched.get(topic)
    if (members === undefined) {
      members = this.#index.match(topic)
      if (this.#matched.size >= MATCH_CACHE_SIZE) this.#matched.clear()
      this.#matched.set(topic, members)
    }
    return members
  }

  /** Shared groups on the peers whose filter matches `topic`. */
  matchShared (topic: string): SharedRoute[] {
    const found: SharedRoute[] = []
    for (const key of this.#sharedIndex.match(topic)) {
      const route = this.#shared.get(key)
      if (route !== undefined && filterSees(route.filter, topic)) found.push(route)
    }
    return found
  }

  /** The peers' members of one shared group, if any. */
  shared (key: string): SharedRoute | undefined {
    return this.#shared.get(key)
  }

  #add (filter: string, memberId: string): void {
    const share = parseShareEntry(filter)
    if (share === undefined) {
      this.#matched.clear()
      this.#index.add(filter, memberId)
      return
    }
    const key = shareKey(share.group, share.filter)
    let route = this.#shared.get(key)
    if (route === undefined) {
      route = { key, group: share.group, filter: share.filter, nodes: new Map() }
      this.#shared.set(key, route)
      this.#sharedIndex.add(share.filter, key)
    }
    route.nodes.set(memberId, (route.nodes.get(memberId) ?? 0) + 1)
  }

  #remove (filter: string, memberId: string): void {
    const share = parseShareEntry(filter)
    if (share === undefined) {
      this.#matched.clear()
      this.#index.remove(filter, memberId)
      return
    }
    const key = shareKey(share.group, share.filter)
    const route = this.#shared.get(key)
    if (route === undefined) return
    const n = (route.nodes.get(memberId) ?? 0) - 1
    if (n > 0) route.nodes.set(memberId, n)
    else route.nodes.delete(memberId)
    if (route.nodes.size === 0) {
      this.#shared.delete(key)
      this.#sharedIndex.remove(share.filter, key)
    }
  }
}
