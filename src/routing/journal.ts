/**
 * A node's journal: a Redis stream in its inbox's slot (`{in:<member>}:j`) holding every
 * frame with QoS 1/2 messages that peers sent to its inbox, appended by the same script
 * that SPUBLISHes it (lua/journal-publish.lua) and trimmed by its owner to the last few seconds. Sharded pub/sub is
 * at-most-once; the journal is how nothing acknowledged is lost on the way:
 * - frames from one sender are numbered, so a gap (frames lost while the inbox's shard
 *   failed over or moved) is filled from here when the next frame arrives;
 * - frames lost at the end of a stream have no next frame to reveal them: while the inbox
 *   is in trouble (a ping lost) and once it answers again, the journal is audited for
 *   frames newer than the last one received from each sender;
 * - after an inbox outage the QoS 1/2 messages of the outage are replayed to this node's
 *   persistent sessions, which queue those they do not have yet;
 * - a dead node's journal is replayed by its reaper to its sessions' new owners.
 */
import type { Logger } from '../logger.js'
import type { RedisConnections } from '../redis/client.js'
import { decodeFrame, type InboxRecord, type PublishRecord } from './frames.js'
import type { KeySpace } from '../redis/keys.js'
import type { Scripts } from '../redis/scripts.js'

/** Frames a node keeps in its journal after receiving them. */
export const JOURNAL_RETENTION_MS = 5000
/** Journal entries kept at most per member (approximate trim, a safety cap). */
const JOURNAL_MAX = 100_000
/** An inbox outage is taken to start this long before the last answered ping. */
const RECOVERY_MARGIN_MS = 1000
/** A journal entry younger than this may still be on its way through pub/sub: not audited yet. */
const AUDIT_SETTLE_MS = 300
/** Frames read per round trip. */
const JOURNAL_BATCH = 200

/**
 * A QoS 1/2 message from a journal; `clientId` when it was for one session, `share`
 * when it was for one member of a shared group.
 */
export interface JournalMessage { record: PublishRecord, sender: string, seq: number, clientId?: string, share?: { group: string, filter: string, hash: number } }

interface JournalFrame { sender: string, seq: number, at: number, records: InboxRecord[] }

export interface JournalDeps {
  redis: RedisConnections
  keys: KeySpace
  scripts: Scripts
  memberId: () => string
  /** A QoS 1/2 message that was lost on its way to this node: deliver it now. */
  lost: (message: JournalMessage) => void
  /** A QoS 1/2 message of an inbox outage, for this node's persistent sessions. */
  replay?: () => ((message: JournalMessage) => Promise<void>) | undefined
  log: Logger
}

export class Journal {
  readonly #deps: JournalDeps
  /** Number of the last frame received (or taken from the journal) from each sender. */
  readonly #lastSeq = new Map<string, number>()
  #auditing: Promise<void> | undefined
  #auditAgain: number | undefined
  #keepFrom: (() => number | undefined) | undefined

  constructor (deps: JournalDeps) {
    this.#deps = deps
  }

  /** Appends a frame sent to `memberId` (the sender calls this with the SPUBLISH). */
  /** Appends a frame to `memberId`'s journal and sends it to its inbox (one command). */
  async appendAndSend (memberId: string, frame: Buffer): Promise<number> {
    return await this.#deps.scripts.journalPublish(memberId, frame, JOURNAL_MAX, this.#deps.redis.capabilities.sharded)
  }

  /** See `ClusterRouting.setJournalFloor`. */
  setFloor (keepFrom: () => number | undefined): void {
    this.#keepFrom = keepFrom
  }

  /**
   * Drops what was received longer ago than the retention (queued long since), and
   * before the floor: the retention before the oldest frame still needed.
   */
  trim (): void {
    const minId = String(Math.min(Date.now(), this.#keepFrom?.() ?? Infinity) - JOURNAL_RETENTION_MS)
    this.#deps.redis.cmd.xtrim(this.#deps.keys.journal(this.#deps.memberId()), 'MINID', '~', minId)
      .catch((err: unknown) => this.#deps.log.debug({ err }, 'journal not trimmed'))
  }

  /** Deletes a member's journal (after its reaper replayed it, or when it leaves). */
  async drop (memberId: string): Promise<void> {
    await this.#deps.redis.cmd.del(this.#deps.keys.journal(memberId))
  }

  /** The QoS 1/2 messages in `memberId`'s journal from stream id `from`, oldest first. */
  async * messages (memberId: string, from = '-'): AsyncGenerator<JournalMessage> {
    for await (const frame of this.#frames(memberId, from)) yield * durable(frame)
  }

  /**
   * A frame numbered `seq` arrived from `sender`: a gap before it is filled from the
   * journal. True when it is newer than every frame received from `sender` before.
   */
  received (sender: string, seq: number): boolean {
    const last = this.#lastSeq.get(sender)
    this.#lastSeq.set(sender, Math.max(seq, last ?? 0))
    if (last !== undefined && seq <= last) return false
    if (last !== undefined && seq > last + 1) void this.#fillGap(sender, last + 1, seq - 1)
    return true
  }

  /** `sender` left: its numbering ends. */
  forget (sender: string): void {
    this.#lastSeq.delete(sender)
  }

  /** This node rejoined under a new member id: peers number their frames to it afresh. */
  reset (): void {
    this.#lastSeq.clear()
  }

  /**
   * Frames in this node's journal since `sinceMs` that are newer than the last one
   * received from their sender were lost at the end of a stream: delivered from here.
   * Runs once at a time; a call made meanwhile runs again after it.
   */
  async audit (sinceMs: number): Promise<void> {
    if (this.#auditing !== undefined) {
      this.#auditAgain = Math.min(this.#auditAgain ?? sinceMs, sinceMs)
      return await this.#auditing
    }
    this.#auditing = this.#audit(sinceMs)
    try {
      await this.#auditing
    } finally {
      this.#auditing = undefined
    }
    const again = this.#auditAgain
    this.#auditAgain = undefined
    if (again !== undefined) await this.audit(again)
  }

  async #audit (sinceMs: number): Promise<void> {
    const settled = Date.now() - AUDIT_SETTLE_MS
    let found = 0
    try {
      for await (const frame of this.#frames(this.#deps.memberId(), String(Math.max(0, sinceMs - RECOVERY_MARGIN_MS)))) {
        if (frame.at > settled) break
        if (frame.seq <= (this.#lastSeq.get(frame.sender) ?? 0)) continue
        this.#lastSeq.set(frame.sender, frame.seq)
        found++
        for (const m of durable(frame)) this.#deps.lost(m)
      }
      if (found > 0) this.#deps.log.warn({ since: new Date(sinceMs).toISOString(), fromJournal: found }, 'frames lost at the end of a stream were taken from the journal')
    } catch (err) {
      this.#deps.log.warn({ err }, 'journal audit failed')
    }
  }

  /**
   * The inbox answers again after an outage that began at `sinceMs`: its QoS 1/2 messages
   * are replayed to this node's persistent sessions, and the journal audited once the
   * frames still on their way have arrived.
   */
  async recover (sinceMs: number): Promise<void> {
    setTimeout(() => { void this.audit(sinceMs) }, AUDIT_SETTLE_MS).unref()
    const replay = this.#deps.replay?.()
    if (replay === undefined) return
    let replayed = 0
    try {
      for await (const m of this.messages(this.#deps.memberId(), String(Math.max(0, sinceMs - RECOVERY_MARGIN_MS)))) {
        replayed++
        await replay(m)
      }
      this.#deps.log.info({ since: new Date(sinceMs).toISOString(), replayed }, 'inbox outage: journal replayed to persistent sessions')
    } catch (err) {
      this.#deps.log.warn({ err }, 'inbox outage: journal not replayed')
    }
  }

  async #fillGap (sender: string, from: number, to: number): Promise<void> {
    let found = 0
    try {
      for await (const frame of this.#frames(this.#deps.memberId(), String(Date.now() - JOURNAL_RETENTION_MS))) {
        if (frame.sender !== sender || frame.seq < from || frame.seq > to) continue
        found++
        for (const m of durable(frame)) this.#deps.lost(m)
      }
      this.#deps.log.warn({ sender, from, to, fromJournal: found }, 'frames from a peer were lost: the QoS 1/2 ones were taken from the journal')
    } catch (err) {
      this.#deps.log.warn({ err, sender, from, to }, 'frames from a peer were lost and the journal could not be read')
    }
  }

  /** The frames in `memberId`'s journal from stream id `from`, decoded, oldest first. */
  async * #frames (memberId: string, from: string): AsyncGenerator<JournalFrame> {
    const key = this.#deps.keys.journal(memberId)
    let start = from
    for (;;) {
      const entries = await this.#deps.redis.cmd.xrangeBuffer(key, start, '+', 'COUNT', JOURNAL_BATCH)
      if (entries.length === 0) return
      for (const [id, fields] of entries) {
        const streamId = id.toString()
        start = `(${streamId}`
        const frame = fields[1]
        if (frame === undefined) continue
        try {
          yield { ...decodeFrame(frame), at: Number(streamId.split('-')[0]) }
        } catch (err) {
          this.#deps.log.warn({ err, memberId }, 'journal entry not decodable: skipped')
        }
      }
    }
  }
}

function * durable (frame: JournalFrame): Generator<JournalMessage> {
  const { sender, seq } = frame
  for (const r of frame.records) {
    if (r.kind === 'publish' && r.qos > 0) yield { record: r, sender, seq }
    else if (r.kind === 'direct') yield { record: r.publish, sender, seq, clientId: r.clientId }
    else if (r.kind === 'shared' && r.publish.qos > 0) yield { record: r.publish, sender, seq, share: { group: r.group, filter: r.filter, hash: r.hash } }
  }
}
