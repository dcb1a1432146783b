/**
 * The mqemitter handed to aedes. Local delivery is mqemitter's own (same matching rules
 * as aedes expects); on top of it, every listener change updates this node's routes and
 * every emitted packet is also forwarded to the peers with matching routes. Packets that
 * arrive from peers are delivered locally only (`deliver`): a node never re-routes.
 */
import mqemitter from 'mqemitter'

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

  constructor (hooks: RoutingHooks, opts: Record<string, unknown> = {}) {
    super(opts)
    this.#hooks = hooks
  }

  override on (topic: string, listener: Listener, done?: () => void): this {
    if (this.#hooks.refuse?.(topic, listener) === true) {
      done?.()
      return this
    }
    super.on(topic, listener)
    this.#hooks.listenerAdded(topic, () => done?.())
    return this
  }

  override removeListener (topic: string, listener: Listener, done?: () => void): this {
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
