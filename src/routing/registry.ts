/**
 * Membership: every node holds a lease in the `{nodes}` sorted set, with a deadline taken
 * from Redis TIME, and renews it every third of the lease time. Every node also sweeps
 * expired leases, twice a second at most (a dead node's wills go out within the lease time
 * and a second); the sweep removes them atomically, so each dead member has exactly one
 * reaper. A node that finds its own lease reaped must not go on under that identity: it
 * is told so (`onLeaseLost`) and rejoins as a new member.
 *
 * A failover of the shard holding the leases stops every renewal for seconds. The
 * scripts notice the gap in Redis itself (no beat from anyone for two beat intervals)
 * and reap nobody for one lease time after it, whichever node sweeps first, so every
 * live member renews before anyone can be declared dead. A lease the promoted replica
 * lost (not reaped: no tombstone) is restored by its member's next beat.
 */
import type { Logger } from '../logger.js'
import type { Scripts } from '../redis/scripts.js'

export interface RegistryEvents {
  /** The live members (this one included) after each beat; `frameVersions` is new by then. */
  onMembers: (live: ReadonlySet<string>) => void
  /** This caller's sweep removed these expired members: it is their reaper. */
  onReaped: (memberIds: string[]) => void
  /** This member's lease was reaped by a peer. */
  onLeaseLost: () => void
}

/** Most expired members removed per sweep call (bounded script work). */
const SWEEP_LIMIT = 16
/** Longest time between two sweeps. */
const SWEEP_INTERVAL_MS = 500
/** How long a reaped member's tombstone is kept (it tells a lost lease from a reaped one). */
const TOMBSTONE_MIN_MS = 10 * 60_000

export class Registry {
  readonly #scripts: Scripts
  readonly #leaseTtlMs: number
  readonly #events: RegistryEvents
  readonly #log: Logger
  #memberId: string
  #timer: NodeJS.Timeout | undefined
  #sweepTimer: NodeJS.Timeout | undefined
  #beating = false
  #sweeping = false
  #lastBeatAt = 0
  #healthy = false
  #lostReported = false
  readonly #frameVersion: number
  #frameVersions: ReadonlyMap<string, number> = new Map()

  /** @param deps.frameVersion the newest inbox frame version this node reads, announced with its lease */
  constructor (deps: { scripts: Scripts, leaseTtlMs: number, memberId: string, frameVersion: number, log: Logger, events: RegistryEvents }) {
    this.#scripts = deps.scripts
    this.#leaseTtlMs = deps.leaseTtlMs
    this.#events = deps.events
    this.#log = deps.log
    this.#memberId = deps.memberId
    this.#frameVersion = deps.frameVersion
  }

  /**
   * The newest inbox frame version each live member announced, as of the last beat: 0 for
   * one that announced none (a release that reads version 2 only); a member that joined
   * since is missing.
   */
  get frameVersions (): ReadonlyMap<string, number> { return this.#frameVersions }

  get memberId (): string { return this.#memberId }
  /** True while the last beat succeeded within the lease time. */
  get healthy (): boolean { return this.#healthy && Date.now() - this.#lastBeatAt < this.#leaseTtlMs }
  get heartbeatIntervalMs (): number { return Math.floor(this.#leaseTtlMs / 3) }

  /** Takes the lease for `memberId` and starts beating. Returns the live members. */
  async join (memberId: string): Promise<Set<string>> {
    this.#memberId = memberId
    const beat = await this.#scripts.nodeHeartbeat(memberId, this.#leaseTtlMs, true, this.#gapMs, this.#frameVersion)
    this.#frameVersions = beat.frameVersions
    this.#lastBeatAt = Date.now()
    this.#healthy = true
    this.#lostReported = false
    this.#schedule()
    return new Set(beat.live)
  }

  /** One beat now (also what the timer runs). */
  async beat (): Promise<void> {
    if (this.#beating) return
    this.#beating = true
    try {
      const beat = await this.#scripts.nodeHeartbeat(this.#memberId, this.#leaseTtlMs, false, this.#gapMs, this.#frameVersion)
      this.#frameVersions = beat.frameVersions
      if (!beat.held) {
        this.leaseLost('own lease was reaped')
        return
      }
      const now = Date.now()
      if (beat.restored) this.#log.warn({ memberId: this.#memberId }, 'own lease was missing but not reaped (lost in a Redis failover): restored')
      if (now - this.#lastBeatAt > this.#gapMs) this.#log.warn({ missedMs: now - this.#lastBeatAt }, 'heartbeats resumed after a gap')
      this.#lastBeatAt = now
      this.#healthy = true
      this.#events.onMembers(new Set(beat.live))
    } catch (err) {
      this.#log.warn({ err }, 'heartbeat failed')
    } finally {
      this.#beating = false
    }
  }

  /** Removes expired leases; this node is the reaper of those it removed. */
  async sweep (): Promise<void> {
    if (this.#sweeping || !this.healthy) return
    this.#sweeping = true
    try {
      // A reaper must have renewed its own lease within the last beat or so, and the
      // leases' shard must not have been silent just before (see node-sweep.lua).
      const reaped = await this.#scripts.nodeSweep({
        limit: SWEEP_LIMIT,
        memberId: this.#memberId,
        minOwnLeaseMs: this.#leaseTtlMs - 2 * this.heartbeatIntervalMs,
        gapMs: this.#gapMs,
        ttlMs: this.#leaseTtlMs,
        tombstoneMs: Math.max(TOMBSTONE_MIN_MS, 100 * this.#leaseTtlMs)
      })
      if (reaped.length > 0) this.#events.onReaped(reaped)
    } catch (err) {
      this.#log.debug({ err }, 'lease sweep failed')
    } finally {
      this.#sweeping = false
    }
  }

  /**
   * A peer reaped this member (its beat found a tombstone, or the reaper said so): stop
   * serving under this identity.
   */
  leaseLost (why: string): void {
    if (!this.#healthy && this.#lostReported) return
    this.#healthy = false
    this.#lostReported = true
    this.#log.warn({ memberId: this.#memberId }, why)
    this.#events.onLeaseLost()
  }

  /** No beat from any member for this long is a gap in the leases' shard. */
  get #gapMs (): number { return 2 * this.heartbeatIntervalMs }

  /** Stops beating (the lease is removed by the caller's `leave`). */
  stop (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer)
    this.#timer = undefined
    this.#sweepTimer = undefined
  }

  #schedule (): void {
    this.stop()
    this.#timer = setInterval(() => { void this.beat() }, this.heartbeatIntervalMs)
    this.#timer.unref()
    this.#sweepTimer = setInterval(() => { void this.sweep() }, Math.min(SWEEP_INTERVAL_MS, this.heartbeatIntervalMs))
    this.#sweepTimer.unref()
  }
}
