/**
 * DeadMembers settles the peers that stopped beating.
 *
 * Missing: a peer absent from the live members is still routed to until its reaper says
 * `gone` (its journal keeps what is sent meanwhile for the new owners of its sessions), or
 * until it has been missing for a whole lease time (its reaper died too): then it is dropped.
 *
 * Reaped (this node swept its lease): its sessions first (wills, adoption: the adopters take
 * routes for them), then its routes go and every peer is told `gone`; once peers have stopped
 * sending to the dead inbox, its shared group messages go to the groups' live members and its
 * journal is replayed to the sessions' new owners (by the layer above).
 */
import type { Logger } from '../logger.js'
import type { RedisConnections } from '../redis/client.js'
import type { KeySpace } from '../redis/keys.js'
import type { JournalMessage } from './journal.js'

/** After a dead member's routes are dropped, how long before its journal is replayed. */
export const REAP_QUIET_MS = 300

/**
 * What the sessions layer does for a member this node reaped: its wills and sessions are
 * ours to settle. It calls `dropRoutes` after the adopters took their routes and before
 * replaying the journal; `live` are the members that may adopt.
 */
export type ReapedHook = (memberId: string, live: string[], dropRoutes: () => Promise<void>) => Promise<void>

export interface DeadMembersDeps {
  redis: RedisConnections
  keys: KeySpace
  leaseTtlMs: number
  log: Logger
  /** This node's member id now (it changes on a rejoin). */
  self: () => string
  /** The peers this node routes to now. */
  peers: () => ReadonlySet<string>
  /** Sends `gone memberId` to peer `to`. */
  sayGone: (to: string, memberId: string) => void
  /** Stops routing to `memberId` and forgets what is kept for it. */
  dropPeer: (memberId: string) => void
  /** A member's journal, oldest first. */
  journal: (memberId: string) => AsyncIterable<JournalMessage>
  /** Gives a shared group message of a dead member's journal to another member of its group. */
  redispatch: (m: JournalMessage & { share: NonNullable<JournalMessage['share']> }) => void
  /** The sessions layer's hook, once it is wired. */
  reaped: () => ReapedHook | undefined
  /** Called after this node reaped dead members. */
  onReaped?: (memberIds: string[]) => void
}

export class DeadMembers {
  readonly #deps: DeadMembersDeps
  /** Peers missing from the live members since (ms), not yet reaped. */
  readonly #missingSince = new Map<string, number>()

  constructor (deps: DeadMembersDeps) {
    this.#deps = deps
  }

  /** After a beat listed `live`: notes the peers missing from it, drops those missing a lease time. */
  check (live: ReadonlySet<string>, now = Date.now()): void {
    for (const p of [...this.#deps.peers()]) {
      if (live.has(p)) {
        this.#missingSince.delete(p)
        continue
      }
      const since = this.#missingSince.get(p) ?? now
      this.#missingSince.set(p, since)
      if (now - since >= this.#deps.leaseTtlMs) this.#deps.dropPeer(p)
    }
  }

  /** Whether `memberId` was missing from the last beat's live members. */
  missing (memberId: string): boolean {
    return this.#missingSince.has(memberId)
  }

  /** Forgets a peer that was dropped. */
  forget (memberId: string): void {
    this.#missingSince.delete(memberId)
  }

  /** Settles members whose lease this node swept, one after the other. */
  async reap (dead: string[]): Promise<void> {
    const { log } = this.#deps
    for (const m of dead) {
      log.info({ memberId: m }, 'node lease expired')
      const live = [this.#deps.self(), ...[...this.#deps.peers()].filter(p => !dead.includes(p) && !this.missing(p))]
      const dropRoutes = async (): Promise<void> => await this.#dropRoutes(m)
      const hook = this.#deps.reaped()
      if (hook === undefined) await dropRoutes()
      else await hook(m, live, dropRoutes).catch((err: unknown) => log.error({ err, memberId: m }, 'dead node sessions not settled'))
      if (this.#deps.peers().has(m)) await dropRoutes()
    }
    this.#deps.onReaped?.(dead)
  }

  async #dropRoutes (memberId: string): Promise<void> {
    const { redis, keys, log } = this.#deps
    const routes = keys.routes(memberId)
    await redis.cmd.del(routes.filters, routes.meta).catch((err: unknown) => log.warn({ err, memberId }, 'dead routes not deleted'))
    for (const p of this.#deps.peers()) this.#deps.sayGone(p, memberId)
    this.#deps.dropPeer(memberId)
    await new Promise(resolve => setTimeout(resolve, REAP_QUIET_MS))
    await this.#redispatchShared(memberId)
  }

  /**
   * The QoS 1/2 shared group messages sent to a dead member in its last seconds (its
   * journal) go to the groups' members on the live nodes: those its members had not
   * acknowledged are not lost; those they had are delivered a second time.
   */
  async #redispatchShared (memberId: string): Promise<void> {
    let redispatched = 0
    try {
      for await (const m of this.#deps.journal(memberId)) {
        if (m.share === undefined) continue
        redispatched++
        this.#deps.redispatch({ ...m, share: m.share })
      }
    } catch (err) {
      this.#deps.log.warn({ err, memberId }, 'dead node journal not read for its shared group messages')
    }
    if (redispatched > 0) this.#deps.log.info({ memberId, redispatched }, 'dead node shared group messages given to other members')
  }
}
