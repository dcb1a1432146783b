/**
 * Deferred writes of connected persistent sessions. A QoS 1/2 message that reached this
 * node in a live frame is already durable in this node's journal, so while its session is
 * connected here (its queue replayed) it is not queued on Redis: it is kept in memory
 * until its client acknowledges it, and the journal keeps its frame meanwhile (the
 * journal's floor). What each session has settled is recorded now and then as a mark: per
 * sender, the frame number below which the session has nothing unacknowledged. If this
 * node dies, its reaper replays the journal to the session's new owner from the marks on;
 * if the connection ends or loses its session while this node lives, what is still
 * pending is queued on Redis (or handed to the new owner) before the session is parked.
 */
import type { FrameOrigin } from '../routing/cluster.js'
import { refOf, type ClientLike, type Packet } from './types.js'

/** One message delivered from memory, not yet acknowledged. */
export interface PendingMessage {
  packet: Packet
  origin: FrameOrigin
  /** Local time it arrived (ms). */
  at: number
  /** The packet identifier it was sent with, once sent. */
  messageId?: number
}

/**
 * How long a connection remembers the messages it was given from memory after their
 * acknowledgement: longer than a previous owner hands over what still reaches it.
 */
const RECENT_MS = 10_000

interface ConnectionState {
  clientId: string
  pending: Map<string, PendingMessage>
  /**
   * Refs this connection was given and acknowledged (or given by a hand-over), with the
   * local time: a copy arriving by the other path (a live frame, or a hand-over from the
   * previous owner) is not sent again. Oldest first.
   */
  recent: Map<string, number>
  /** Set once the connection ended: nothing more is deferred for it. */
  closed: boolean
}

export class DeferredDeliveries {
  readonly #conns = new Map<object, ConnectionState>()
  /**
   * Per sender: every frame it numbered up to this one was handled here (its messages
   * queued on Redis or kept in memory). Frames are numbered per receiver from 1; one lost
   * on the way (filled from the journal) is never reported handled, so the marks stay
   * below it: the reaper then replays more than needed, never less.
   */
  readonly #upTo = new Map<string, number>()
  /** Per sender: frames handled beyond `#upTo` (their hooks settled out of order). */
  readonly #beyond = new Map<string, Set<number>>()

  /** Every message of the frame `origin` was handled (see `#upTo`). */
  frameHandled (origin: FrameOrigin): void {
    let upTo = this.#upTo.get(origin.sender) ?? 0
    if (origin.seq <= upTo) return
    let beyond = this.#beyond.get(origin.sender)
    if (beyond === undefined) this.#beyond.set(origin.sender, beyond = new Set())
    beyond.add(origin.seq)
    while (beyond.delete(upTo + 1)) upTo++
    this.#upTo.set(origin.sender, upTo)
    if (beyond.size === 0) this.#beyond.delete(origin.sender)
  }

  /** This node's peers number their frames to it afresh (it rejoined). */
  resetNumbering (): void {
    this.#upTo.clear()
    this.#beyond.clear()
  }

  /** Keeps `packet` for `client` in memory; false when it already holds that message. */
  add (client: ClientLike, packet: Packet, origin: FrameOrigin): boolean {
    let state = this.#conns.get(client)
    if (state === undefined) this.#conns.set(client, state = this.#state(client))
    const ref = refOf(packet)
    if (state.closed || state.pending.has(ref)) return false
    state.pending.set(ref, { packet, origin, at: Date.now() })
    return true
  }

  #state (client: ClientLike): ConnectionState {
    return { clientId: client.id, pending: new Map(), recent: new Map(), closed: false }
  }

  /** Whether `client` holds `ref` in memory or was given it lately (see `recent`). */
  seen (client: object, ref: string): boolean {
    const state = this.#conns.get(client)
    if (state === undefined) return false
    if (state.pending.has(ref)) return true
    const at = state.recent.get(ref)
    return at !== undefined && at > Date.now() - RECENT_MS
  }

  /** `client` was given `ref` by another path than a live frame (a hand-over). */
  remember (client: ClientLike, ref: string): void {
    let state = this.#conns.get(client)
    if (state === undefined) this.#conns.set(client, state = this.#state(client))
    this.#recent(state, ref)
  }

  #recent (state: ConnectionState, ref: string): void {
    const now = Date.now()
    state.recent.delete(ref)
    state.recent.set(ref, now)
    for (const [old, at] of state.recent) {
      if (at > now - RECENT_MS) break
      state.recent.delete(old)
    }
  }

  /** Messages held now, over every connection. */
  get size (): number {
    let n = 0
    for (const state of this.#conns.values()) n += state.pending.size
    return n
  }

  /** Whether anything was ever kept for `client`. */
  has (client: object): boolean {
    return this.#conns.has(client)
  }

  accepts (client: object): boolean {
    return this.#conns.get(client)?.closed !== true
  }

  /** The pending message `ref` of `client`, if it is one. */
  get (client: object, ref: string): PendingMessage | undefined {
    return this.#conns.get(client)?.pending.get(ref)
  }

  /** `client` acknowledged `ref`. */
  acked (client: object, ref: string): void {
    const state = this.#conns.get(client)
    if (state === undefined || !state.pending.delete(ref)) return
    this.#recent(state, ref)
  }

  /**
   * The mark of `client`'s session: per sender, the lowest frame number that may still
   * hold something of it (a pending message, or a frame being handled).
   */
  mark (client: object): Map<string, number> {
    const floors = new Map<string, number>()
    for (const [sender, seq] of this.#upTo) floors.set(sender, seq + 1)
    const state = this.#conns.get(client)
    if (state !== undefined) {
      for (const p of state.pending.values()) {
        const floor = floors.get(p.origin.sender)
        if (floor !== undefined && p.origin.seq < floor) floors.set(p.origin.sender, p.origin.seq)
      }
    }
    return floors
  }

  /** Whether a frame numbered `origin.seq` has nothing of `client`'s session still pending here. */
  settled (client: object, origin: FrameOrigin): boolean {
    return origin.seq < (this.mark(client).get(origin.sender) ?? 0)
  }

  /** The connection ended or lost its session: what it still holds, oldest first. */
  close (client: object): PendingMessage[] {
    const state = this.#conns.get(client)
    if (state === undefined) return []
    state.closed = true
    const pending = [...state.pending.values()]
    state.pending.clear()
    return pending
  }

  /** Forgets a connection once its pending messages went to Redis. */
  forget (client: object): void {
    this.#conns.delete(client)
  }

  /** Pending messages older than `before` (local ms), by connection, taken out. */
  takeOlder (before: number): Array<[ClientLike, PendingMessage[]]> {
    const taken: Array<[ClientLike, PendingMessage[]]> = []
    for (const [client, state] of this.#conns) {
      const old = [...state.pending.values()].filter(p => p.at < before)
      if (old.length === 0) continue
      for (const p of old) state.pending.delete(refOf(p.packet))
      taken.push([client as ClientLike, old])
    }
    return taken
  }

  /** Local time of the oldest pending message (the journal keeps its frame). */
  oldest (): number | undefined {
    let oldest: number | undefined
    for (const state of this.#conns.values()) {
      // Kept in arrival order: the first is the oldest.
      const first = state.pending.values().next()
      if (first.done !== true && (oldest === undefined || first.value.at < oldest)) oldest = first.value.at
    }
    return oldest
  }
}

/** A mark as stored: `<owner>|<sender>:<floor>,...`. */
export function encodeMark (owner: string, floors: Map<string, number>): string {
  return `${owner}|${[...floors].map(([sender, seq]) => `${sender}:${seq}`).join(',')}`
}

/** The floors of a stored mark if it was written by `owner`. */
export function decodeMark (owner: string, stored: string | null): Map<string, number> | undefined {
  if (stored === null) return undefined
  const bar = stored.indexOf('|')
  if (bar < 0 || stored.slice(0, bar) !== owner) return undefined
  const floors = new Map<string, number>()
  for (const part of stored.slice(bar + 1).split(',')) {
    const colon = part.lastIndexOf(':')
    if (colon <= 0) continue
    const seq = Number(part.slice(colon + 1))
    if (Number.isInteger(seq)) floors.set(part.slice(0, colon), seq)
  }
  return floors
}
