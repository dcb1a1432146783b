/**
 * Membership: every node holds a lease in the `{nodes}` sorted set, with a deadline taken
 * from Redis TIME, and renews it every third of the lease time. Every node also sweeps
 * expired leases, twice a second at most (a dead node's wills go out within the lease time
 * and a second); the sweep removes them atomically, so each dead member has exactly one
 * reaper. A node that finds its own lease gone must not go on under that
 * identity: it is told so (`onLeaseLost`) and rejoins as a new member.
 */
import type { Logger } from '../logger.js'
import type { Scripts } from '../redis/scripts.js'

export interface RegistryEvents {
  /** The live members (this one included) after each beat. */
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
  /** No sweeping before this time (ms): after an outage every member needs a beat first. */
  #sweepAfter = 0
  #lastBeatAt = 0
  #healthy = false

  constructor (deps: { scripts: Scripts, leaseTtlMs: number, memberId: string, log: Logger, events: RegistryEvents }) {
    this.#scripts = deps.scripts
    this.#leaseTtlMs = deps.leaseTtlMs
    this.#events = deps.events
    this.#log = deps.log
    this.#memberId = deps.memberId
  }

  get memberId (): string { return this.#memberId }
  /** True while the last beat succeeded within the lease time. */
  get healthy (): boolean { return this.#healthy && Date.now() - this.#lastBeatAt < this.#leaseTtlMs }
  get heartbeatIntervalMs (): number { return Math.floor(this.#leaseTtlMs / 3) }

  /** Takes the lease for `memberId` and starts beating. Returns the live members. */
  async join (memberId: string): Promise<Set<string>> {
    this.#memberId = memberId
    const beat = await this.#scripts.nodeHeartbeat(memberId, this.#leaseTtlMs, true)
    this.#lastBeatAt = Date.now()
    this.#healthy = true
    this.#schedule()
    return new Set(beat.live)
  }

  /** One beat now (also what the timer runs). */
  async beat (): Promise<void> {
    if (this.#beating) return
    this.#beating = true
    try {
      const beat = await this.#scripts.nodeHeartbeat(this.#memberId, this.#leaseTtlMs, false)
      if (!beat.held) {
        this.#healthy = false
        this.#log.warn({ memberId: this.#memberId }, 'own lease was reaped')
        this.#events.onLeaseLost()
        return
      }
      const now = Date.now()
      // Beats failed for a while (the shard holding the leases was failing over, or this
      // node was cut off): every other member's lease may have run out meanwhile for the
      // same reason. Give them a whole lease time to renew before reaping anyone.
      if (now - this.#lastBeatAt > this.heartbeatIntervalMs * 2) {
        this.#sweepAfter = now + this.#leaseTtlMs
        this.#log.warn({ missedMs: now - this.#lastBeatAt }, 'heartbeats resumed after a gap: not reaping for one lease time')
      }
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
    if (this.#sweeping || !this.healthy || Date.now() < this.#sweepAfter) return
    this.#sweeping = true
    try {
      // A reaper must have renewed its own lease within the last beat or so (see node-sweep.lua).
      const reaped = await this.#scripts.nodeSweep(SWEEP_LIMIT, this.#memberId, this.#leaseTtlMs - 2 * this.heartbeatIntervalMs)
      if (reaped.length > 0) this.#events.onReaped(reaped)
    } catch (err) {
      this.#log.debug({ err }, 'lease sweep failed')
    } finally {
      this.#sweeping = false
    }
  }

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
