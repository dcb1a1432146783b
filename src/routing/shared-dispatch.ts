/**
 * Routes messages to shared subscription groups. On the publishing node, each group
 * whose filter matches gets the message once: a node is picked among those with members
 * (this one included), weighted by member count, by the broker's strategy; a local pick
 * is delivered here, a remote one is returned for the caller to send as a `shared`
 * record. The receiving node hands it to one of its members; if it has none left (the
 * member left while the message travelled), it passes the message on to another node
 * of the group, at most MAX_HOPS times.
 *
 * The same code serves standalone mode, where there are no peers.
 */
import type { Logger } from '../logger.js'
import type { ClusterEmitter, Message } from './emitter.js'
import type { RouteTable } from './route-table.js'
import { messageHash, pick, shareKey, type PickState, type SharedStrategy } from './shared.js'

/** A message for one member of a shared group on another node. */
export interface SharedSend { target: string, group: string, filter: string, hash: number, hops: number }

export interface SharedDispatchDeps {
  emitter: ClusterEmitter
  strategy: SharedStrategy
  /** This node's member id. */
  memberId: () => string
  /** The peers' routes (none in standalone mode). */
  table?: RouteTable
  /** Sends to a peer (none in standalone mode). */
  send?: (s: SharedSend, message: Message) => void
  log: Logger
}

/** A message passed on this many times without finding a member is dropped. */
export const MAX_HOPS = 3
/** Pick states kept per (group, filter); beyond this, those of vanished groups are dropped. */
const MAX_STATES = 10_000

interface Group { group: string, filter: string, candidates: Array<readonly [string, number]> }

export class SharedDispatch {
  readonly #deps: SharedDispatchDeps
  readonly #states = new Map<string, PickState>()
  /** Messages handed to a local member, sent to a peer, and dropped (no member anywhere). */
  readonly counts = { local: 0, sent: 0, dropped: 0 }

  constructor (deps: SharedDispatchDeps) {
    this.#deps = deps
  }

  /** Whether any shared group has members anywhere (publishes skip this module if not). */
  get active (): boolean {
    return this.#deps.emitter.shared.size > 0 || (this.#deps.table?.sharedSize ?? 0) > 0
  }

  /**
   * Gives a published message to every matching group: local picks are delivered at
   * once; the remote ones are returned (undefined when there are none).
   */
  route (message: Message): SharedSend[] | undefined {
    const groups = this.#matching(message.topic)
    if (groups.size === 0) return undefined
    const hash = messageHash(this.#deps.strategy, message)
    let sends: SharedSend[] | undefined
    for (const [key, g] of groups) {
      const s = this.#place(key, g, message, hash, 0)
      if (s !== undefined) (sends ??= []).push(s)
    }
    return sends
  }

  /**
   * Gives a message to another member of (group, filter): one whose member disconnected
   * before acknowledging it, or one that reached a node with no member left. `exclude`
   * is a node not to pick (the one that just had no member, or whose inbox nobody heard):
   * otherwise a hash strategy, or a round robin moved on by other messages, may pick it again.
   */
  redispatch (group: string, filter: string, message: Message, hash: number, hops: number, exclude?: string): void {
    const key = shareKey(group, filter)
    const g = this.#group(key, group, filter, exclude)
    const s = this.#place(key, g, message, hash, hops)
    if (s !== undefined) this.#deps.send?.(s, message)
  }

  /** A `shared` record from a peer: to a local member, or on to another node. */
  receive (group: string, filter: string, message: Message, hash: number, hops: number): void {
    if (this.#deps.emitter.deliverShared(group, filter, message, hash)) {
      this.counts.local++
      return
    }
    if (hops + 1 >= MAX_HOPS) {
      this.counts.dropped++
      this.#deps.log.warn({ group, filter, topic: message.topic, hops }, 'shared message found no member of its group: dropped')
      return
    }
    this.redispatch(group, filter, message, hash, hops + 1, this.#deps.memberId())
  }

  #place (key: string, g: Group, message: Message, hash: number, hops: number): SharedSend | undefined {
    let state = this.#states.get(key)
    if (state === undefined) {
      if (this.#states.size >= MAX_STATES) this.#prune()
      state = { next: 0, sticky: undefined }
      this.#states.set(key, state)
    }
    const target = pick(g.candidates, this.#deps.strategy, state, hash)
    const me = this.#deps.memberId()
    if (target === undefined) {
      this.counts.dropped++
      this.#deps.log.debug({ group: g.group, filter: g.filter, topic: message.topic }, 'shared group has no member: message dropped')
      return undefined
    }
    if (target === me && this.#deps.emitter.deliverShared(g.group, g.filter, message, hash)) {
      this.counts.local++
      return undefined
    }
    if (target === me) return undefined
    this.counts.sent++
    return { target, group: g.group, filter: g.filter, hash, hops }
  }

  #matching (topic: string): Map<string, Group> {
    const groups = new Map<string, Group>()
    for (const local of this.#deps.emitter.shared.match(topic)) groups.set(local.key, this.#group(local.key, local.group, local.filter))
    for (const route of this.#deps.table?.matchShared(topic) ?? []) {
      if (!groups.has(route.key)) groups.set(route.key, this.#group(route.key, route.group, route.filter))
    }
    return groups
  }

  /** Every node with members of the group (but `exclude`), with its member count; this node first. */
  #group (key: string, group: string, filter: string, exclude?: string): Group {
    const candidates: Array<readonly [string, number]> = []
    const me = this.#deps.memberId()
    const local = this.#deps.emitter.shared.get(key)?.members.length ?? 0
    if (local > 0 && me !== exclude) candidates.push([me, local])
    const remote = this.#deps.table?.shared(key)
    if (remote !== undefined) for (const [m, n] of remote.nodes) if (m !== me && m !== exclude) candidates.push([m, n])
    return { group, filter, candidates }
  }

  #prune (): void {
    for (const key of this.#states.keys()) {
      if (this.#deps.emitter.shared.get(key) === undefined && this.#deps.table?.shared(key) === undefined) this.#states.delete(key)
    }
  }
}
