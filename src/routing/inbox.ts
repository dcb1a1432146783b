/**
 * This node's inbox: the one sharded channel every peer sends to it on. Frames are decoded
 * and handed on; a malformed frame is logged and dropped. The node pings its own inbox
 * every second: a ping that has not come back by the next one means the subscription may
 * be lost (failover, slot move), so it resubscribes (one renewal at a time) and says so
 * (`onTrouble`: frames may have been lost). A ping that comes back late still proves
 * the inbox works.
 */
import type { Logger } from '../logger.js'
import type { RedisConnections } from '../redis/client.js'
import { decodeFrame, FrameWriter, type InboxRecord } from './frames.js'

export interface InboxDeps {
  redis: RedisConnections
  channel: () => string
  memberId: () => string
  onRecords: (sender: string, records: InboxRecord[], seq: number) => void
  /** A ping was lost: frames sent since `sinceMs` may be lost (called at every lost ping). */
  onTrouble?: (sinceMs: number) => void
  /** The inbox answers again after a lost ping: frames sent since `sinceMs` may be lost. */
  onRecovered?: (sinceMs: number) => void
  pingIntervalMs: number
  log: Logger
}

/** Unanswered pings older than this are forgotten (a late answer no longer proves much). */
const MAX_PING_AGE_MS = 10_000

export class Inbox {
  readonly #deps: InboxDeps
  #listening: string | undefined
  #timer: NodeJS.Timeout | undefined
  #nonce = 0
  /** Pings not answered yet: nonce to the time it was sent (ms). */
  readonly #unanswered = new Map<number, number>()
  #resubscribing: Promise<void> | undefined
  #lastSendError: string | undefined
  #healthy = false
  /** When the last answered ping was sent (ms). */
  #lastAnsweredAt = 0
  /** Start of the current outage: when the last ping before it was answered. */
  #outageSince: number | undefined
  /** Frames that could not be decoded. */
  malformed = 0
  /** Times the subscription was renewed after a lost ping. */
  resubscribes = 0
  /** Pings that came back (the inbox works). */
  pingsAnswered = 0

  constructor (deps: InboxDeps) {
    this.#deps = deps
    deps.redis.onFrame((channel, frame) => this.#onFrame(channel, frame))
  }

  get healthy (): boolean { return this.#healthy }

  async start (): Promise<void> {
    await this.#listen()
    this.#healthy = true
    this.#timer = setInterval(() => this.#tick(), this.#deps.pingIntervalMs)
    this.#timer.unref()
  }

  /** Moves to the current channel (after the member rejoined under a new id). */
  async move (): Promise<void> {
    const old = this.#listening
    this.#unanswered.clear()
    await this.#listen()
    if (old !== undefined && old !== this.#listening) await this.#deps.redis.unlisten(old).catch(() => {})
  }

  async close (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#healthy = false
    const channel = this.#listening
    this.#listening = undefined
    if (channel !== undefined) await this.#deps.redis.unlisten(channel).catch(() => {})
  }

  async #listen (): Promise<void> {
    const channel = this.#deps.channel()
    await this.#deps.redis.listen(channel)
    this.#listening = channel
  }

  #tick (): void {
    // A renewal under way sends the next ping when it is done: a ping sent meanwhile would
    // reach the channel between unsubscribe and subscribe, be lost, and start another
    // renewal at the next tick, and so on for as long as the node runs.
    if (this.#resubscribing !== undefined) return
    const now = Date.now()
    if (this.#unanswered.size > 0) {
      this.#outageSince ??= this.#lastAnsweredAt
      this.#healthy = false
      this.#deps.log.warn({ channel: this.#listening, unanswered: this.#unanswered.size, sendError: this.#lastSendError }, 'inbox ping lost, resubscribing')
      this.#deps.onTrouble?.(this.#outageSince)
      for (const [nonce, sentAt] of this.#unanswered) if (now - sentAt > MAX_PING_AGE_MS) this.#unanswered.delete(nonce)
      this.#resubscribe()
      return
    }
    this.#ping()
  }

  #ping (): void {
    const now = Date.now()
    const nonce = this.#nonce = (this.#nonce + 1) >>> 0
    this.#unanswered.set(nonce, now)
    const frame = new FrameWriter(this.#deps.memberId()).ping(nonce).finish()
    this.#deps.redis.send(this.#deps.channel(), frame).then(
      () => { this.#lastSendError = undefined },
      (err: unknown) => { this.#lastSendError = err instanceof Error ? err.message : String(err) })
  }

  /** Renews the subscription, unless a renewal is still under way. */
  #resubscribe (): void {
    const channel = this.#listening
    if (channel === undefined || this.#resubscribing !== undefined) return
    this.resubscribes++
    this.#resubscribing = this.#deps.redis.unlisten(channel)
      .catch(() => {})
      .then(async () => await this.#deps.redis.listen(channel))
      .catch((err: unknown) => this.#deps.log.warn({ err }, 'inbox resubscribe failed'))
      .finally(() => {
        this.#resubscribing = undefined
        // Answered, this ping settles every earlier one (see #answered).
        if (this.#listening === channel) this.#ping()
      })
  }

  #answered (nonce: number, channel: string): void {
    const sentAt = this.#unanswered.get(nonce)
    if (sentAt === undefined) return
    // This ping and every earlier one are settled: the inbox works (if slowly).
    for (const [n, at] of this.#unanswered) if (at <= sentAt) this.#unanswered.delete(n)
    this.#lastAnsweredAt = Math.max(this.#lastAnsweredAt, sentAt)
    this.pingsAnswered++
    if (!this.#healthy) this.#deps.log.info({ channel }, 'inbox healthy again')
    this.#healthy = true
    const since = this.#outageSince
    this.#outageSince = undefined
    if (since !== undefined) this.#deps.onRecovered?.(since)
  }

  #onFrame (channel: string, frame: Buffer): void {
    if (channel !== this.#listening) return
    let decoded
    try {
      decoded = decodeFrame(frame)
    } catch (err) {
      this.malformed++
      this.#deps.log.warn({ err, bytes: frame.length }, 'malformed inbox frame dropped')
      return
    }
    const others: InboxRecord[] = []
    for (const r of decoded.records) {
      if (r.kind === 'ping' && decoded.sender === this.#deps.memberId()) {
        this.#answered(r.nonce, channel)
      } else {
        others.push(r)
      }
    }
    if (decoded.sender !== this.#deps.memberId()) this.#deps.onRecords(decoded.sender, others, decoded.seq)
  }
}
