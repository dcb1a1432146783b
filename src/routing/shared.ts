/**
 * Shared subscriptions: `$share/<group>/<filter>` ([MQTT-4.8.2] of MQTT 5, accepted from
 * MQTT 3.1.1 clients as EMQX and Mosquitto do). Each message matching the filter goes to
 * one member of each group. Two choices are made per message: the publishing node picks
 * a node among those with members of the group (weighted by their member counts), and
 * that node picks one of its local members, both by the broker's strategy.
 *
 * A node announces its members of a group as route entries `$share/<group>+<n>/<filter>`,
 * one per member (n = 1..count): a group name cannot hold `+`, so no subscription can
 * spell such an entry, and one member joining or leaving is one route change.
 */
import type { Message } from './emitter.js'

export const SHARED_STRATEGIES = ['random', 'round_robin', 'sticky', 'hash_clientid', 'hash_topic'] as const
export type SharedStrategy = typeof SHARED_STRATEGIES[number]

export const SHARE_PREFIX = '$share/'

export interface ShareRef { group: string, filter: string }

export const GROUP_WILDCARD = 'a group name cannot hold + or #'

/** Whether a subscription topic asks for a shared subscription (valid or not). */
export function isShareTopic (topic: string): boolean {
  return topic.startsWith(SHARE_PREFIX) || topic === '$share'
}

/**
 * The group and filter of `$share/<group>/<filter>`, or why it is refused: the group
 * must be non-empty without `+`, `#` or `/`, the filter non-empty [MQTT-4.8.2-1, -2].
 */
export function parseShare (topic: string): ShareRef | { problem: string } {
  if (!topic.startsWith(SHARE_PREFIX)) return { problem: 'a shared subscription needs $share/<group>/<filter>' }
  const slash = topic.indexOf('/', SHARE_PREFIX.length)
  if (slash < 0) return { problem: 'a shared subscription needs a topic filter after the group' }
  const group = topic.slice(SHARE_PREFIX.length, slash)
  const filter = topic.slice(slash + 1)
  if (group.length === 0) return { problem: 'a shared subscription needs a group name' }
  if (group.includes('+') || group.includes('#')) return { problem: GROUP_WILDCARD }
  if (filter.length === 0) return { problem: 'a shared subscription needs a topic filter after the group' }
  return { group, filter }
}

/** Key of one (group, filter) pair: `<group>/<filter>` (a group holds no `/`). */
export function shareKey (group: string, filter: string): string {
  return `${group}/${filter}`
}

/** The route entry announcing a node's `n`-th member of (group, filter). */
export function shareEntry (group: string, filter: string, n: number): string {
  return `${SHARE_PREFIX}${group}+${n}/${filter}`
}

/** Group and filter of a route entry made by `shareEntry`, or undefined for an ordinary filter. */
export function parseShareEntry (entry: string): ShareRef | undefined {
  if (!entry.startsWith(SHARE_PREFIX)) return undefined
  const slash = entry.indexOf('/', SHARE_PREFIX.length)
  const plus = entry.lastIndexOf('+', slash)
  if (slash < 0 || plus < SHARE_PREFIX.length) return undefined
  return { group: entry.slice(SHARE_PREFIX.length, plus), filter: entry.slice(slash + 1) }
}

/** A 32-bit FNV-1a hash: the same string gives the same member on every node. */
export function hash32 (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The number a hash strategy picks by (0 for the others). */
export function messageHash (strategy: SharedStrategy, message: Message): number {
  if (strategy === 'hash_topic') return hash32(message.topic)
  if (strategy === 'hash_clientid') return hash32(String((message as { clientId?: unknown }).clientId ?? ''))
  return 0
}

/** What a strategy remembers per (group, filter) between picks. */
export interface PickState { next: number, sticky: string | undefined }

/**
 * Picks one of `candidates` (id → weight, in a stable order), weighted:
 * - random: each with probability weight / total;
 * - round_robin: turn by turn, each `weight` times per round;
 * - sticky: the previous pick while it is still a candidate, else a random one;
 * - hash_*: the one that `hash` falls on, stable while the candidates are.
 */
export function pick (candidates: ReadonlyArray<readonly [string, number]>, strategy: SharedStrategy, state: PickState, hash: number): string | undefined {
  let total = 0
  for (const [, w] of candidates) total += w
  if (total === 0) return undefined
  let at: number
  switch (strategy) {
    case 'round_robin':
      at = state.next % total
      state.next = (state.next + 1) % 0x7fffffff
      break
    case 'sticky':
      if (state.sticky !== undefined && candidates.some(([id]) => id === state.sticky)) return state.sticky
      at = Math.floor(Math.random() * total)
      break
    case 'hash_clientid':
    case 'hash_topic':
      at = hash % total
      break
    case 'random':
      at = Math.floor(Math.random() * total)
      break
  }
  for (const [id, w] of candidates) {
    if (at < w) {
      state.sticky = id
      return id
    }
    at -= w
  }
  return undefined
}
