/**
 * Keeps the route table current with the peers' deltas. A delta that is not the next one
 * expected from its sender (a gap, or a sender not loaded yet) triggers a reload of that
 * sender's route set from Redis; deltas arriving meanwhile are queued and replayed on
 * top of the snapshot. Every delta is acknowledged once applied (or found stale).
 */
import type { Logger } from '../logger.js'
import type { RouteChange } from './frames.js'
import type { RouteTable } from './route-table.js'

export interface PeerSyncDeps {
  table: RouteTable
  /** Reads a member's route set and its delta number from Redis. */
  read: (memberId: string) => Promise<{ seq: number, filters: string[] }>
  /** Acknowledges delta `seq` to its sender. */
  ack: (memberId: string, seq: number) => void
  /** Whether a member is still live (a reload for a reaped member is discarded). */
  live: (memberId: string) => boolean
  log: Logger
}

interface Delta { seq: number, changes: RouteChange[] }
interface SenderState { reloading: Promise<void> | undefined, queued: Delta[] }

export class PeerSync {
  readonly #deps: PeerSyncDeps
  readonly #senders = new Map<string, SenderState>()

  constructor (deps: PeerSyncDeps) {
    this.#deps = deps
  }

  /** Reloads done so far (gaps, unknown senders, digest mismatches, joins). */
  reloads = 0

  onDelta (from: string, seq: number, changes: RouteChange[]): void {
    const state = this.#state(from)
    if (state.reloading !== undefined) {
      state.queued.push({ seq, changes })
      return
    }
    const outcome = this.#deps.table.apply(from, seq, changes)
    if (outcome === 'applied' || outcome === 'stale') {
      this.#deps.ack(from, seq)
      return
    }
    state.queued.push({ seq, changes })
    void this.reload(from)
  }

  /** Loads `memberId`'s routes unless they are loaded already. */
  ensure (memberId: string): void {
    if (!this.#deps.table.has(memberId)) void this.reload(memberId)
  }

  /** Reloads `memberId` if Redis holds a newer delta number than the table. */
  checkDigest (memberId: string, storedSeq: number): void {
    const known = this.#deps.table.seqOf(memberId)
    if (known === undefined || storedSeq > known) {
      if (known !== undefined) this.#deps.log.info({ memberId, known, storedSeq }, 'route digest mismatch, reloading')
      void this.reload(memberId)
    }
  }

  drop (memberId: string): void {
    this.#deps.table.drop(memberId)
    this.#senders.delete(memberId)
  }

  /** Replaces a member's routes with a fresh snapshot, then replays queued deltas. */
  async reload (memberId: string): Promise<void> {
    const state = this.#state(memberId)
    if (state.reloading !== undefined) return await state.reloading
    this.reloads++
    state.reloading = (async () => {
      try {
        const snapshot = await this.#deps.read(memberId)
        if (!this.#deps.live(memberId)) return
        this.#deps.table.replace(memberId, snapshot.seq, snapshot.filters)
        this.#deps.log.debug({ memberId, seq: snapshot.seq, filters: snapshot.filters.length }, 'routes loaded')
      } catch (err) {
        this.#deps.log.warn({ err, memberId }, 'routes reload failed')
      }
    })()
    await state.reloading
    state.reloading = undefined
    const queued = state.queued.sort((a, b) => a.seq - b.seq)
    state.queued = []
    for (const d of queued) {
      const outcome = this.#deps.table.apply(memberId, d.seq, d.changes)
      if (outcome === 'applied' || outcome === 'stale') this.#deps.ack(memberId, d.seq)
      // A remaining gap means a delta is still missing: the digest check repairs it.
    }
  }

  #state (memberId: string): SenderState {
    let s = this.#senders.get(memberId)
    if (s === undefined) {
      s = { reloading: undefined, queued: [] }
      this.#senders.set(memberId, s)
    }
    return s
  }
}
