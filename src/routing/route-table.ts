/**
 * Route table: which peer members have subscribers for which topic filters. Read on
 * every publish, so it lives in memory (a qlobber trie); kept current by route deltas,
 * each numbered per sender so that a gap is noticed and repaired by a reload.
 */
import { QlobberDedup } from 'qlobber'
import type { RouteChange } from '../redis/codec.js'

export type DeltaOutcome = 'applied' | 'stale' | 'gap' | 'unknown'

interface PeerRoutes { seq: number, filters: Set<string> }

export class RouteTable {
  readonly #peers = new Map<string, PeerRoutes>()
  // Same matching rules as aedes' own emitter (mqemitter): '/' levels, '+', '#',
  // empty levels match. Over-matching is harmless: the receiving node matches again.
  readonly #index = new QlobberDedup<string>({ separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true })

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
        this.#index.add(c.filter, memberId)
      } else if (!c.add && peer.filters.delete(c.filter)) {
        this.#index.remove(c.filter, memberId)
      }
    }
    peer.seq = seq
    return 'applied'
  }

  /** Replaces a member's routes with a snapshot read from Redis. */
  replace (memberId: string, seq: number, filters: Iterable<string>): void {
    this.drop(memberId)
    const set = new Set(filters)
    for (const f of set) this.#index.add(f, memberId)
    this.#peers.set(memberId, { seq, filters: set })
  }

  drop (memberId: string): boolean {
    const peer = this.#peers.get(memberId)
    if (peer === undefined) return false
    for (const f of peer.filters) this.#index.remove(f, memberId)
    this.#peers.delete(memberId)
    return true
  }

  /** Members with at least one filter matching `topic`. */
  match (topic: string): Set<string> {
    return this.#index.match(topic)
  }
}
