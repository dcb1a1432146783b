/**
 * This node's inbox: the one sharded channel every peer sends to it on. Frames are decoded
 * and handed on; a malformed frame is logged and dropped. The node pings its own inbox
 * every few seconds: a ping that does not come back means the subscription was lost
 * (failover, slot move), so it resubscribes.
 */
import type { Logger } from '../logger.js'
import type { RedisConnections } from '../redis/client.js'
import { decodeFrame, FrameWriter, type InboxRecord } from '../redis/codec.js'

export interface InboxDeps {
  redis: RedisConnections
  channel: () => string
  memberId: () => string
  onRecords: (sender: string, records: InboxRecord[], seq: number) => void
  /** The inbox answers again after a lost ping: frames sent since `sinceMs` may be lost. */
  onRecovered?: (sinceMs: number) => void
  pingIntervalMs: number
  log: Logger
}

export class Inbox {
  readonly #deps: InboxDeps
  #listening: string | undefined
  #timer: NodeJS.Timeout | undefined
  #nonce = 0
  #outstanding: number | undefined
  #healthy = false
  /** When the last answered ping was sent (ms). */
  #lastAnsweredAt = 0
  #pingSentAt = 0
  /** Start of the current outage: when the last ping before it was answered. */
  #outageSince: number | undefined
  /** Frames that could not be decoded. */
  malformed = 0
  /** Times the subscription was renewed after a lost ping. */
  resubscribes = 0

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
    if (this.#outstanding !== undefined) {
      this.#outageSince ??= this.#lastAnsweredAt
      this.#healthy = false
      this.resubscribes++
      this.#deps.log.warn({ channel: this.#listening }, 'inbox ping lost, resubscribing')
      const channel = this.#listening
      if (channel !== undefined) {
        this.#deps.redis.unlisten(channel)
          .catch(() => {})
          .then(async () => await this.#deps.redis.listen(channel))
          .catch((err: unknown) => this.#deps.log.warn({ err }, 'inbox resubscribe failed'))
      }
    }
    const nonce = this.#nonce = (this.#nonce + 1) >>> 0
    this.#outstanding = nonce
    this.#pingSentAt = Date.now()
    const frame = new FrameWriter(this.#deps.memberId()).ping(nonce).finish()
    this.#deps.redis.send(this.#deps.channel(), frame).catch((err: unknown) => {
      this.#deps.log.debug({ err }, 'inbox ping not sent')
    })
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
        if (r.nonce === this.#outstanding) {
          this.#outstanding = undefined
          this.#lastAnsweredAt = this.#pingSentAt
          if (!this.#healthy) this.#deps.log.info({ channel }, 'inbox healthy again')
          this.#healthy = true
          const since = this.#outageSince
          this.#outageSince = undefined
          if (since !== undefined) this.#deps.onRecovered?.(since)
        }
      } else {
        others.push(r)
      }
    }
    if (decoded.sender !== this.#deps.memberId()) this.#deps.onRecords(decoded.sender, others, decoded.seq)
  }
}
