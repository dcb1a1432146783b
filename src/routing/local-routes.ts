/**
 * This node's own routes: which topic filters have local subscribers. When a filter gains
 * its first local listener or loses its last, the change is written to this member's
 * route set in Redis and announced to every peer as a numbered delta. A subscribe
 * completes (and aedes sends SUBACK) once every live peer has acknowledged the delta, so
 * a publish made on any node after SUBACK reaches the new subscriber.
 */
import type { Logger } from '../logger.js'
import type { RouteChange } from './frames.js'

export interface LocalRoutesDeps {
  /** Resolves once the node has joined the cluster. */
  ready: () => Promise<void>
  /** Writes changes under delta number `seq` to this member's route set in Redis. */
  persist: (seq: number, changes: RouteChange[]) => Promise<void>
  /** Sends the delta to every peer; returns the peers that must acknowledge it. */
  announce: (seq: number, changes: RouteChange[]) => ReadonlySet<string>
  log: Logger
  /** Longest a subscribe waits for peers' acknowledgements. */
  ackTimeoutMs: number
}

/** Most changes in one delta (bounded script and frame size). */
const MAX_CHANGES = 256
/** Pause before retrying changes that Redis refused. */
const RETRY_MS = 1000

interface AckWait { waiting: Set<string>, resolve: () => void }

export class LocalRoutes {
  readonly #deps: LocalRoutesDeps
  readonly #counts = new Map<string, number>()
  readonly #published = new Set<string>()
  readonly #dirty = new Set<string>()
  readonly #acks = new Map<number, AckWait>()
  #waiters: Array<() => void> = []
  #seq = 0
  #flushing = false
  #scheduled = false
  #closed = false
  /** Deltas some peer did not acknowledge within the timeout (the subscribe went on without it). */
  ackTimeouts = 0

  constructor (deps: LocalRoutesDeps) {
    this.#deps = deps
  }

  /** The delta number of the last change written to Redis. */
  get seq (): number { return this.#seq }
  /** Filters with local listeners. */
  filters (): IterableIterator<string> { return this.#counts.keys() }

  /** A local listener was added; `done` runs when peers know the route. */
  added (filter: string, done: () => void): void {
    this.#counts.set(filter, (this.#counts.get(filter) ?? 0) + 1)
    this.#dirty.add(filter)
    this.#waiters.push(done)
    this.#schedule(0)
  }

  /** A local listener was removed. */
  removed (filter: string): void {
    const n = (this.#counts.get(filter) ?? 0) - 1
    if (n > 0) {
      this.#counts.set(filter, n)
      return
    }
    this.#counts.delete(filter)
    this.#dirty.add(filter)
    this.#schedule(0)
  }

  /** A peer acknowledged every delta up to `seq`. */
  acked (memberId: string, seq: number): void {
    for (const [s, wait] of this.#acks) {
      if (s <= seq) this.#release(s, wait, memberId)
    }
  }

  /** A peer is gone: stop waiting for it. */
  peerGone (memberId: string): void {
    for (const [s, wait] of this.#acks) this.#release(s, wait, memberId)
  }

  /** Starts over as a new member: every local filter is published again from seq 1. */
  reset (): void {
    this.#seq = 0
    this.#published.clear()
    for (const f of this.#counts.keys()) this.#dirty.add(f)
    for (const [s, wait] of this.#acks) { this.#acks.delete(s); wait.resolve() }
    this.#schedule(0)
  }

  close (): void {
    this.#closed = true
    for (const [s, wait] of this.#acks) { this.#acks.delete(s); wait.resolve() }
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }

  #release (seq: number, wait: AckWait, memberId: string): void {
    wait.waiting.delete(memberId)
    if (wait.waiting.size === 0) {
      this.#acks.delete(seq)
      wait.resolve()
    }
  }

  #schedule (delayMs: number): void {
    if (this.#flushing || this.#scheduled || this.#closed) return
    this.#scheduled = true
    const run = (): void => { this.#scheduled = false; void this.#flush() }
    if (delayMs === 0) setImmediate(run)
    else setTimeout(run, delayMs).unref()
  }

  async #flush (): Promise<void> {
    this.#flushing = true
    let retry = false
    const waiters = this.#waiters
    this.#waiters = []
    try {
      await this.#deps.ready()
      const changes: RouteChange[] = []
      for (const filter of this.#dirty) {
        const want = this.#counts.has(filter)
        if (want !== this.#published.has(filter)) changes.push({ add: want, filter })
      }
      this.#dirty.clear()
      for (let i = 0; i < changes.length && !this.#closed; i += MAX_CHANGES) {
        const chunk = changes.slice(i, i + MAX_CHANGES)
        const seq = ++this.#seq
        try {
          await this.#deps.persist(seq, chunk)
        } catch (err) {
          // The number is spent either way: peers that see the gap reload from Redis.
          this.#deps.log.warn({ err, seq, changes: chunk.length }, 'route change not stored, will retry')
          for (const c of changes.slice(i)) this.#dirty.add(c.filter)
          retry = true
          break
        }
        for (const c of chunk) {
          if (c.add) this.#published.add(c.filter)
          else this.#published.delete(c.filter)
        }
        await this.#waitForAcks(seq, this.#deps.announce(seq, chunk))
      }
    } finally {
      this.#flushing = false
      for (const w of waiters) w()
      if (!this.#closed && (this.#dirty.size > 0 || this.#waiters.length > 0)) this.#schedule(retry ? RETRY_MS : 0)
    }
  }

  async #waitForAcks (seq: number, peers: ReadonlySet<string>): Promise<void> {
    if (peers.size === 0) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => {
        if (this.#acks.delete(seq)) {
          this.ackTimeouts++
          this.#deps.log.debug({ seq, missing: [...peers] }, 'route delta not acknowledged by every peer in time')
        }
        resolve()
      }, this.#deps.ackTimeoutMs)
      timer.unref()
      this.#acks.set(seq, { waiting: new Set(peers), resolve: () => { clearTimeout(timer); resolve() } })
    })
  }
}
