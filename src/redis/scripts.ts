/**
 * Script registry: every Lua file in lua/, the names of its KEYS and ARGV (a unit test
 * checks them against each file's header), loaded once with ioredis `defineCommand`
 * (EVALSHA, reloaded automatically after NOSCRIPT), and one typed wrapper per script.
 * Callers never see KEYS or ARGV arrays.
 */
import { readFileSync } from 'node:fs'
import { BrokerError, ERR } from '../errors.js'
import type { RedisClient } from './client.js'
import type { KeySpace, SessionKeys } from './keys.js'

export interface ScriptSpec {
  readonly file: string
  readonly keys: readonly string[]
  readonly argv: readonly string[]
  /** The last ARGV entry repeats (ARGV[n..]). */
  readonly variadic?: boolean
}

export const SCRIPTS = {
  nodeHeartbeat: { file: 'node-heartbeat.lua', keys: ['nodes', 'clock', 'reaped', 'frames'], argv: ['memberId', 'ttlMs', 'register', 'gapMs', 'frameVersion'] },
  nodeSweep: { file: 'node-sweep.lua', keys: ['nodes', 'clock', 'reaped', 'frames'], argv: ['limit', 'memberId', 'minOwnLeaseMs', 'gapMs', 'ttlMs', 'tombstoneMs'] },
  journalPublish: { file: 'journal-publish.lua', keys: ['journal'], argv: ['channel', 'frame', 'maxLength', 'sharded'] },
  routesApply: { file: 'routes-apply.lua', keys: ['filters', 'meta'], argv: ['seq', 'expiryMs', 'changes'], variadic: true },
  routesRead: { file: 'routes-read.lua', keys: ['filters', 'meta'], argv: [] },
  retainedUnindex: { file: 'retained-unindex.lua', keys: ['partition'], argv: ['topic', 'score'] },
  sessionOpen: { file: 'session-open.lua', keys: ['meta', 'subs', 'queue', 'out', 'incoming'], argv: ['memberId', 'clean', 'persistent'] },
  sessionClose: { file: 'session-close.lua', keys: ['meta', 'subs', 'queue', 'out', 'incoming', 'will'], argv: ['epoch', 'expiryMs'] },
  sessionSubs: { file: 'session-subs.lua', keys: ['meta', 'subs'], argv: ['epoch', 'op', 'items'], variadic: true },
  sessionPut: { file: 'session-put.lua', keys: ['meta', 'target'], argv: ['epoch', 'op', 'field', 'value'] },
  outgoingEnqueue: { file: 'outgoing-enqueue.lua', keys: ['meta', 'queue', 'out', 'done'], argv: ['epoch', 'cap', 'ref', 'packet'] },
  outgoingUpdate: { file: 'outgoing-update.lua', keys: ['meta', 'queue', 'out', 'done'], argv: ['epoch', 'ref', 'messageId', 'packet', 'doneMs'] },
  outgoingSent: { file: 'outgoing-sent.lua', keys: ['meta', 'out'], argv: ['epoch', 'pairs'], variadic: true },
  outgoingAcked: { file: 'outgoing-acked.lua', keys: ['meta', 'queue', 'out', 'done'], argv: ['epoch', 'doneMs', 'pairs'], variadic: true },
  sessionMark: { file: 'session-mark.lua', keys: ['meta'], argv: ['epoch', 'mark'] },
  sessionReap: { file: 'session-reap.lua', keys: ['meta', 'subs', 'queue', 'out', 'incoming', 'will'], argv: ['deadOwner', 'adopter', 'expiryMs'] },
  outgoingClear: { file: 'outgoing-clear.lua', keys: ['meta', 'queue', 'out', 'done'], argv: ['epoch', 'messageId', 'doneMs', 'ref'] }
} as const satisfies Record<string, ScriptSpec>

export type ScriptName = keyof typeof SCRIPTS

export const LUA_DIR = new URL('../../lua/', import.meta.url)

/** Reads a script; Redis < 7 has no `#!lua` shebang support, so it is stripped there. */
export function readScript (name: ScriptName, redisMajor = 7): string {
  const source = readFileSync(new URL(SCRIPTS[name].file, LUA_DIR), 'utf8')
  return redisMajor >= 7 ? source : source.replace(/^#!lua[^\n]*\n/, '')
}

type Arg = string | number | Buffer
type ScriptCall = (...args: Arg[]) => Promise<unknown>

/** Scripts bound to one Redis client. */
export class Scripts {
  readonly #redis: RedisClient
  readonly #keys: KeySpace

  constructor (redis: RedisClient, keys: KeySpace, redisMajor = 7) {
    this.#redis = redis
    this.#keys = keys
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      redis.defineCommand(`slotmq_${name}`, { numberOfKeys: SCRIPTS[name].keys.length, lua: readScript(name, redisMajor) })
    }
  }

  /** Told the round trip of every script call, failed ones included (the metrics). */
  observe: ((name: ScriptName, seconds: number) => void) | undefined

  /** Runs a script; with `binary`, string replies come back as Buffers. */
  async #run (name: ScriptName, keys: string[], argv: Arg[], binary = false): Promise<unknown> {
    const call = (this.#redis as unknown as Record<string, ScriptCall>)[`slotmq_${name}${binary ? 'Buffer' : ''}`]
    if (call === undefined) throw new BrokerError(ERR.SCRIPT_REPLY, `script ${name} is not defined`)
    const observe = this.observe
    if (observe === undefined) return await call.call(this.#redis, ...keys, ...argv)
    const started = process.hrtime.bigint()
    try {
      return await call.call(this.#redis, ...keys, ...argv)
    } finally {
      observe(name, Number(process.hrtime.bigint() - started) / 1e9)
    }
  }

  /**
   * Appends `frame` to `memberId`'s journal and sends it to its inbox, in one step.
   * Returns the number of subscribers that received it.
   */
  async journalPublish (memberId: string, frame: Buffer, maxLength: number, sharded: boolean): Promise<number> {
    return Number(await this.#run('journalPublish', [this.#keys.journal(memberId)], [this.#keys.inbox(memberId), frame, maxLength, sharded ? '1' : '0']))
  }

  /**
   * Registers (register = true) or renews this member's lease; lists the live members.
   * `gapMs`: no beat from any member for longer starts a quiet period (see the script).
   * `restored`: the lease was missing without having been reaped (lost in a failover).
   * `frameVersion`: the newest inbox frame version this member reads, announced with the
   * lease; `frameVersions` holds what each live member announced (0 for a member of a
   * release that announces nothing).
   */
  async nodeHeartbeat (memberId: string, ttlMs: number, register: boolean, gapMs: number, frameVersion = 0): Promise<{ held: boolean, deadlineMs: number, live: string[], restored: boolean, frameVersions: Map<string, number> }> {
    const reply = await this.#run('nodeHeartbeat', this.#membershipKeys(), [memberId, ttlMs, register ? '1' : '0', gapMs, frameVersion])
    const [held, ms, liveReply, restored, versions] = expectArray(reply, 'nodeHeartbeat', 5)
    const live = expectStrings(liveReply, 'nodeHeartbeat')
    const frameVersions = new Map<string, number>()
    if (Array.isArray(versions)) {
      live.forEach((m, i) => { frameVersions.set(m, Number(versions[i] ?? 0) || 0) })
    }
    return { held: held === 1, deadlineMs: Number(ms), live, restored: restored === 1, frameVersions }
  }

  /**
   * Removes up to `limit` expired members; the caller is the reaper of those returned.
   * Nothing is removed unless the caller's own lease runs at least `minOwnLeaseMs` more,
   * nor in a quiet period after a gap of `gapMs` without beats (it lasts `ttlMs`).
   * Tombstones of reaped members are kept `tombstoneMs`.
   */
  async nodeSweep (a: { limit: number, memberId: string, minOwnLeaseMs: number, gapMs: number, ttlMs: number, tombstoneMs: number }): Promise<string[]> {
    return expectStrings(await this.#run('nodeSweep', this.#membershipKeys(), [a.limit, a.memberId, a.minOwnLeaseMs, a.gapMs, a.ttlMs, a.tombstoneMs]), 'nodeSweep')
  }

  #membershipKeys (): string[] {
    return [this.#keys.nodes(), this.#keys.nodesClock(), this.#keys.nodesReaped(), this.#keys.nodesFrames()]
  }

  /** Applies route changes ("+filter" / "-filter") under delta number `seq`. */
  async routesApply (memberId: string, seq: number, expiryMs: number, changes: string[]): Promise<{ applied: boolean, seq: number }> {
    const k = this.#keys.routes(memberId)
    const [applied, stored] = expectArray(await this.#run('routesApply', [k.filters, k.meta], [seq, expiryMs, ...changes]), 'routesApply', 2)
    return { applied: applied === 1, seq: Number(stored) }
  }

  /** A member's route set and the delta number it is current to. */
  async routesRead (memberId: string): Promise<{ seq: number, filters: string[] }> {
    const k = this.#keys.routes(memberId)
    const [seq, filters] = expectArray(await this.#run('routesRead', [k.filters, k.meta], []), 'routesRead', 2)
    return { seq: Number(seq), filters: expectStrings(filters, 'routesRead') }
  }

  /** The session scripts of one client. */
  session (clientId: string): SessionScripts {
    return new SessionScripts(async (name, keys, argv, binary) => await this.#run(name, keys, argv, binary), this.#keys.session(clientId))
  }

  /** Drops a topic from its retained-index partition if its score is still `score`. */
  async retainedUnindex (partition: string, topic: string, score: string): Promise<boolean> {
    return await this.#run('retainedUnindex', [partition], [topic, score]) === 1
  }
}

type ScriptRunner = (name: ScriptName, keys: string[], argv: Arg[], binary?: boolean) => Promise<unknown>

export interface SessionOpened {
  /** The fencing token of this connection's hold on the session (decimal string). */
  epoch: string
  previousOwner: string
  previousEpoch: string
  present: boolean
}

export type EnqueueResult =
  | { status: 'queued', dropped: number }
  | { status: 'duplicate' }
  | { status: 'stale', owner: string }

/** Session scripts of one client, bound to its keys. */
export class SessionScripts {
  readonly #run: ScriptRunner
  readonly #k: SessionKeys

  constructor (run: ScriptRunner, keys: SessionKeys) {
    this.#run = run
    this.#k = keys
  }

  async open (memberId: string, clean: boolean, persistent: boolean): Promise<SessionOpened> {
    const k = this.#k
    const reply = await this.#run('sessionOpen', [k.meta, k.subs, k.queue, k.out, k.incoming], [memberId, clean ? '1' : '0', persistent ? '1' : '0'])
    const [epoch, previousOwner, previousEpoch, present] = expectArray(reply, 'sessionOpen', 4)
    return { epoch: String(epoch), previousOwner: String(previousOwner), previousEpoch: String(previousEpoch), present: present === 1 }
  }

  /** Parks (persistent) or deletes the session; 'stale' when another connection owns it. */
  async close (epoch: string, expiryMs: number): Promise<'parked' | 'deleted' | 'stale'> {
    const k = this.#k
    const reply = await this.#run('sessionClose', [k.meta, k.subs, k.queue, k.out, k.incoming, k.will], [epoch, expiryMs])
    return reply === 1 ? 'parked' : reply === 2 ? 'deleted' : 'stale'
  }

  /** Claims a dead member's session: its will, and adoption by `adopter` if persistent. */
  async reap (deadOwner: string, adopter: string, expiryMs: number): Promise<{ outcome: 'adopted' | 'deleted' | 'moved', will: Buffer | null, epoch: string }> {
    const k = this.#k
    const [outcome, will, epoch] = expectArray(await this.#run('sessionReap', [k.meta, k.subs, k.queue, k.out, k.incoming, k.will], [deadOwner, adopter, expiryMs], true), 'sessionReap', 3)
    return {
      outcome: outcome === 1 ? 'adopted' : outcome === 2 ? 'deleted' : 'moved',
      will: Buffer.isBuffer(will) ? will : null,
      epoch: Buffer.isBuffer(epoch) ? epoch.toString() : String(epoch ?? '')
    }
  }

  /** Records how far the owner's journal is settled for this session; false when the epoch was stale. */
  async mark (epoch: string, mark: string): Promise<boolean> {
    return await this.#run('sessionMark', [this.#k.meta], [epoch, mark]) === 1
  }

  /** Returns false when the epoch was stale. */
  async subs (epoch: string, op: 'add' | 'remove' | 'clear', items: string[] = []): Promise<boolean> {
    return await this.#run('sessionSubs', [this.#k.meta, this.#k.subs], [epoch, op, ...items]) === 1
  }

  /** Returns 'applied', 'missing' (hdel of an absent field) or 'stale'. */
  async put (epoch: string, target: 'incoming' | 'will', op: 'hset' | 'hdel' | 'set' | 'clear', field = '', value: Arg = ''): Promise<'applied' | 'missing' | 'stale'> {
    const reply = await this.#run('sessionPut', [this.#k.meta, this.#k[target]], [epoch, op, field, value])
    return reply === 1 ? 'applied' : reply === -1 ? 'missing' : 'stale'
  }

  async enqueue (epoch: string, cap: number, ref: string, packet: Buffer): Promise<EnqueueResult> {
    const k = this.#k
    const [status, dropped, owner] = expectArray(await this.#run('outgoingEnqueue', [k.meta, k.queue, k.out, k.done], [epoch, cap, ref, packet]), 'outgoingEnqueue', 3)
    if (status === 1) return { status: 'queued', dropped: Number(dropped) }
    if (status === 2) return { status: 'duplicate' }
    return { status: 'stale', owner: String(owner) }
  }

  /** Returns 'applied', 'missing' or 'stale'. */
  async update (epoch: string, ref: string, messageId: number, packet: Buffer, doneMs: number): Promise<'applied' | 'missing' | 'stale'> {
    const k = this.#k
    const reply = await this.#run('outgoingUpdate', [k.meta, k.queue, k.out, k.done], [epoch, ref, messageId, packet, doneMs])
    return reply === 1 ? 'applied' : reply === -1 ? 'missing' : 'stale'
  }

  /**
   * Records the identifiers a batch of queued messages goes out with, in one call;
   * `sent` holds [ref, packet identifier] pairs. Returns how many are still queued (and
   * so recorded), or 'stale'.
   */
  async sent (epoch: string, sent: Array<[string, number]>): Promise<number | 'stale'> {
    const reply = Number(await this.#run('outgoingSent', [this.#k.meta, this.#k.out], [epoch, ...sent.flat()]))
    return reply < 0 ? 'stale' : reply
  }

  /**
   * Removes the messages a batch of PUBACKs acknowledged; `acked` holds [packet
   * identifier, ref sent with it ('' when unknown)] pairs. Returns how many were removed.
   */
  async acked (epoch: string, doneMs: number, acked: Array<[number, string]>): Promise<number> {
    const k = this.#k
    return Number(await this.#run('outgoingAcked', [k.meta, k.queue, k.out, k.done], [epoch, doneMs, ...acked.flat()]))
  }

  /**
   * The removed packet, or null; its ref is remembered as acknowledged for `doneMs`.
   * `ref`: the message the caller sent with that identifier, cleared even when the
   * caller's epoch is stale (its client has it).
   */
  async clear (epoch: string, messageId: number, doneMs: number, ref = ''): Promise<Buffer | null> {
    const k = this.#k
    const reply = await this.#run('outgoingClear', [k.meta, k.queue, k.out, k.done], [epoch, messageId, doneMs, ref], true)
    return Buffer.isBuffer(reply) ? reply : null
  }
}

function expectArray (reply: unknown, name: string, length: number): unknown[] {
  if (!Array.isArray(reply) || reply.length !== length) {
    throw new BrokerError(ERR.SCRIPT_REPLY, `unexpected reply from ${name}: ${JSON.stringify(reply)}`)
  }
  return reply
}

function expectStrings (reply: unknown, name: string): string[] {
  if (!Array.isArray(reply) || !reply.every(x => typeof x === 'string')) {
    throw new BrokerError(ERR.SCRIPT_REPLY, `unexpected reply from ${name}: ${JSON.stringify(reply)}`)
  }
  return reply
}
