/**
 * Outbox: batches everything this node sends to one peer in one tick into one frame and
 * one SPUBLISH to the peer's inbox. Frames to one inbox leave in order on one connection,
 * which keeps order per publisher and topic. A frame with QoS 1/2 messages is also
 * appended to the peer's journal (a Redis stream in the inbox's slot, by the same script
 * that SPUBLISHes it): if the peer dies before queueing them, its reaper replays the journal.
 */
import { FRAME_VERSION, FrameWriter, type FrameVersion } from './frames.js'

export interface OutboxDeps {
  /** This member's id, written in every frame header. */
  sender: () => string
  /** The frame version to write (default the newest): what every reader in the cluster reads. */
  version?: () => FrameVersion
  /** Inbox channel of a member. */
  inbox: (memberId: string) => string
  /** Sends one frame to one channel; resolves with the number of subscribers that received it. */
  send: (channel: string, frame: Buffer) => Promise<number>
  /**
   * Sends a frame that carries QoS 1/2 messages and appends it to the member's journal,
   * in one step; without it such frames go through `send` and are not journaled.
   */
  sendJournaled?: (memberId: string, frame: Buffer) => Promise<number>
  /** Called when a frame could not be sent (publishes in it are lost for QoS 0). */
  onError: (memberId: string, records: number, err: Error) => void
}

/**
 * Called once Redis accepted the frame (`receivers`: how many subscribers got it; 0 means
 * nobody listens on that inbox) or with the error when it could not be sent.
 */
export type Settle = (err?: Error, receivers?: number) => void

interface Pending {
  writer: FrameWriter
  settle: Settle[]
}

/** A frame is sent early when it grows past this size, to bound memory and latency. */
const MAX_FRAME_BYTES = 256 * 1024

export class Outbox {
  readonly #deps: OutboxDeps
  readonly #pending = new Map<string, Pending>()
  #scheduled = false
  /** Number of the last frame created for each member. */
  readonly #seq = new Map<string, number>()
  /** Bytes handed to Redis and not yet acknowledged by it. */
  #unsettledBytes = 0

  constructor (deps: OutboxDeps) {
    this.#deps = deps
  }

  /** Bytes written to Redis whose reply has not come back yet (back-pressure signal). */
  get unsettledBytes (): number {
    return this.#unsettledBytes
  }

  /**
   * Adds records for `memberId` to this tick's frame; `settle` is called when Redis has
   * accepted the frame (or with the error when it could not be sent).
   */
  add (memberId: string, write: (w: FrameWriter) => void, settle?: Settle): void {
    let p = this.#pending.get(memberId)
    if (p === undefined) {
      const seq = ((this.#seq.get(memberId) ?? 0) + 1) >>> 0
      this.#seq.set(memberId, seq)
      p = { writer: new FrameWriter(this.#deps.sender(), seq, this.#deps.version?.() ?? FRAME_VERSION), settle: [] }
      this.#pending.set(memberId, p)
    }
    write(p.writer)
    if (settle !== undefined) p.settle.push(settle)
    if (p.writer.bytes >= MAX_FRAME_BYTES) {
      this.#pending.delete(memberId)
      this.#sendFrame(memberId, p)
    } else if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Sends every pending frame now. */
  flush (): void {
    this.#scheduled = false
    const all = [...this.#pending]
    this.#pending.clear()
    for (const [memberId, p] of all) this.#sendFrame(memberId, p)
  }

  /**
   * A member is gone: the frame still pending for it is sent now rather than dropped. Its
   * QoS 1/2 messages reach the member's journal, which its reaper replays, and each
   * `settle` learns how many listened (0: a shared group message then finds another member).
   */
  forget (memberId: string): void {
    const p = this.#pending.get(memberId)
    if (p === undefined) return
    this.#pending.delete(memberId)
    this.#sendFrame(memberId, p)
  }

  #sendFrame (memberId: string, p: Pending): void {
    const frame = p.writer.finish()
    this.#unsettledBytes += frame.length
    const journaled = p.writer.durable ? this.#deps.sendJournaled : undefined
    const sent = journaled !== undefined ? journaled(memberId, frame) : this.#deps.send(this.#deps.inbox(memberId), frame)
    sent.then((receivers) => {
      this.#unsettledBytes -= frame.length
      for (const settle of p.settle) settle(undefined, receivers)
    }, (err: Error) => {
      this.#unsettledBytes -= frame.length
      this.#deps.onError(memberId, p.writer.records, err)
      for (const settle of p.settle) settle(err)
    })
  }
}
