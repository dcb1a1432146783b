/**
 * The mqemitter handed to aedes. Local delivery is mqemitter's own (same matching rules
 * as aedes expects); on top of it, every listener change updates this node's routes and
 * every emitted packet is also forwarded to the peers with matching routes. Packets that
 * arrive from peers are delivered locally only (`deliver`): a node never re-routes.
 *
 * Listeners for `$share/<group>/<filter>` do not go into the trie: they join a shared
 * group (shared-groups.ts), announced as route entries, and receive only what the
 * `forward` hook hands to the group through `deliverShared`.
 */
import mqemitter from 'mqemitter'
import { SharedGroups } from './shared-groups.js'
import { isShareTopic, parseShare, shareEntry, shareKey, type SharedStrategy } from './shared.js'

export type Message = mqemitter.Message
type Listener = (message: Message, done: () => void) => void
type Done = (err?: Error) => void

interface MQEmitterBase {
  current: number
  closed: boolean
  on (topic: string, listener: Listener, done?: () => void): unknown
  removeListener (topic: string, listener: Listener, done?: () => void): unknown
  emit (message: Message, done?: Done): unknown
  close (done: () => void): unknown
}

// mqemitter is a function constructor that also works with `new`; its typings only
// describe the factory call.
const Base = mqemitter as unknown as new (opts?: Record<string, unknown>) => MQEmitterBase

export interface RoutingHooks {
  /** A listener was added locally; call `done` when the route is known cluster-wide. */
  listenerAdded: (filter: string, done: () => void) => void
  listenerRemoved: (filter: string) => void
  /** Sends a locally emitted packet to the peers that have matching routes. */
  forward: (message: Message, done: Done) => void
  /** The emitter was closed (aedes closing). */
  closed: () => Promise<void>
  /** Listeners never registered (aedes' own cluster logic that slotmq replaces). */
  refuse?: (topic: string, listener: Listener) => boolean
}

export class ClusterEmitter extends Base {
  readonly #hooks: RoutingHooks
  /** This node's members of shared subscription groups. */
  readonly shared: SharedGroups

  constructor (hooks: RoutingHooks, opts: Record<string, unknown> = {}, strategy: SharedStrategy = 'round_robin') {
    super(opts)
    this.#hooks = hooks
    this.shared = new SharedGroups(strategy)
  }

  override on (topic: string, listener: Listener, done?: () => void): this {
    if (this.#hooks.refuse?.(topic, listener) === true) {
      done?.()
      return this
    }
    if (isShareTopic(topic)) {
      // An invalid one was refused at SUBSCRIBE (SUBACK 0x80); it never matches anything.
      const share = parseShare(topic)
      if ('problem' in share) {
        done?.()
        return this
      }
      const n = this.shared.add(share.group, share.filter, listener)
      this.#hooks.listenerAdded(shareEntry(share.group, share.filter, n), () => done?.())
      return this
    }
    super.on(topic, listener)
    this.#hooks.listenerAdded(topic, () => done?.())
    return this
  }

  override removeListener (topic: string, listener: Listener, done?: () => void): this {
    if (isShareTopic(topic)) {
      const share = parseShare(topic)
      const before = 'problem' in share ? 0 : this.shared.remove(share.group, share.filter, listener)
      if (before > 0 && !('problem' in share)) this.#hooks.listenerRemoved(shareEntry(share.group, share.filter, before))
      done?.()
      return this
    }
    super.removeListener(topic, listener, () => {
      this.#hooks.listenerRemoved(topic)
      done?.()
    })
    return this
  }

  override emit (message: Message, done?: Done): this {
    if (this.closed) {
      super.emit(message, done)
      return this
    }
    let pending = 2
    let failure: Error | undefined
    const settle: Done = (err) => {
      if (err !== undefined && failure === undefined) failure = err
      if (--pending === 0) done?.(failure)
    }
    this.#hooks.forward(message, settle)
    super.emit(message, () => settle())
    return this
  }

  /**
   * Hands a message to one local member of the shared group `group`/`filter`; false when
   * this node has none (left meanwhile) or is closed.
   */
  deliverShared (group: string, filter: string, message: Message, hash: number): boolean {
    return !this.closed && this.shared.deliver(shareKey(group, filter), message, hash)
  }

  /** Delivers a packet that came from a peer to local listeners only. */
  deliver (message: Message): void {
    if (!this.closed) super.emit(message)
  }

  override close (done: () => void): this {
    super.close(() => {
      this.#hooks.closed().then(done, done)
    })
    return this
  }
}
