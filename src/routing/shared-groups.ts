/**
 * This node's members of shared subscription groups: (group, filter) → the listeners
 * aedes registered for `$share/<group>/<filter>`, one per subscribed client. They are
 * kept out of the emitter's trie, so an ordinary publish never reaches them; the group
 * gets a message only through `deliver`, which hands it to one member.
 */
import { QlobberDedup } from 'qlobber'
import { filterSees, TOPIC_MATCHING } from '../topics.js'
import type { Message } from './emitter.js'
import { pick, shareKey, type PickState, type SharedStrategy } from './shared.js'

export type Listener = (message: Message, done: () => void) => void

export interface LocalGroup {
  readonly key: string
  readonly group: string
  readonly filter: string
  readonly members: Listener[]
  readonly state: PickState
}

const noop = (): void => {}

export class SharedGroups {
  readonly #strategy: SharedStrategy
  readonly #groups = new Map<string, LocalGroup>()
  readonly #index = new QlobberDedup<string>(TOPIC_MATCHING)
  /** A stable id per member listener (sticky and hash picks must not shift when one leaves). */
  readonly #ids = new WeakMap<Listener, string>()
  #nextId = 0

  constructor (strategy: SharedStrategy) {
    this.#strategy = strategy
  }

  /** Number of (group, filter) pairs with local members. */
  get size (): number { return this.#groups.size }

  get (key: string): LocalGroup | undefined {
    return this.#groups.get(key)
  }

  /** Adds a member; returns its group's member count after. */
  add (group: string, filter: string, listener: Listener): number {
    const key = shareKey(group, filter)
    let g = this.#groups.get(key)
    if (g === undefined) {
      g = { key, group, filter, members: [], state: { next: 0, sticky: undefined } }
      this.#groups.set(key, g)
      this.#index.add(filter, key)
    }
    if (!this.#ids.has(listener)) this.#ids.set(listener, String(++this.#nextId))
    g.members.push(listener)
    return g.members.length
  }

  /** Removes a member; returns its group's member count before, or 0 if it was not one. */
  remove (group: string, filter: string, listener: Listener): number {
    const key = shareKey(group, filter)
    const g = this.#groups.get(key)
    const i = g?.members.indexOf(listener) ?? -1
    if (g === undefined || i < 0) return 0
    const before = g.members.length
    g.members.splice(i, 1)
    if (g.members.length === 0) {
      this.#groups.delete(key)
      this.#index.remove(filter, key)
    }
    return before
  }

  /** Local groups whose filter matches `topic`. */
  match (topic: string): LocalGroup[] {
    const found: LocalGroup[] = []
    for (const key of this.#index.match(topic)) {
      const g = this.#groups.get(key)
      if (g !== undefined && filterSees(g.filter, topic)) found.push(g)
    }
    return found
  }

  /** Hands `message` to one local member of `key`; false when the group has none here. */
  deliver (key: string, message: Message, hash: number): boolean {
    const g = this.#groups.get(key)
    if (g === undefined) return false
    const candidates = g.members.map(l => [this.#ids.get(l) ?? '', 1] as const)
    const chosen = pick(candidates, this.#strategy, g.state, hash)
    const member = g.members.find(l => this.#ids.get(l) === chosen) ?? g.members[0]
    if (member === undefined) return false
    member(message, noop)
    return true
  }
}
