/**
 * The subscriptions of the sessions this node owns: on Redis (fenced by the epoch, what
 * any node restores a session from) and mirrored in this node's memory (what a message
 * is matched against to find the sessions to queue it for), with a held route per QoS > 0
 * filter so that publishes made anywhere reach this node while the session is parked.
 */
import type { Ownership } from './ownership.js'
import type { ClientRef, SessionContext, Subscription } from './types.js'

/** The in-memory subscription store (aedes' memory persistence) the sessions mirror into. */
export interface MemorySubscriptions {
  add: (client: ClientRef, subs: Subscription[]) => Promise<void>
  remove: (client: ClientRef, topics: string[]) => Promise<void>
  clean: (client: ClientRef) => Promise<void>
}

export class SessionSubscriptions {
  readonly #ctx: SessionContext
  readonly #memory: MemorySubscriptions
  #ownership: Ownership | undefined
  /** Filters each session holds a route for (its QoS > 0 subscriptions). */
  readonly #held = new Map<string, Set<string>>()

  constructor (ctx: SessionContext, memory: MemorySubscriptions) {
    this.#ctx = ctx
    this.#memory = memory
  }

  /** Ownership and subscriptions refer to each other: ownership forgets, writes are fenced. */
  bind (ownership: Ownership): void {
    this.#ownership = ownership
  }

  get #owners (): Ownership {
    if (this.#ownership === undefined) throw new Error('session subscriptions used before bind()')
    return this.#ownership
  }

  async add (client: ClientRef, subs: Subscription[]): Promise<void> {
    const epoch = this.#owners.epochOf(client)
    const items: string[] = []
    for (const sub of subs) items.push(sub.topic, JSON.stringify(subscriptionRecord(sub)))
    if (!await this.#ctx.scripts.session(client.id).subs(epoch, 'add', items)) {
      throw this.#owners.takenOver(client.id, epoch)
    }
    await this.mirror(client, subs)
  }

  async remove (client: ClientRef, topics: string[]): Promise<void> {
    const epoch = this.#owners.epochOf(client)
    if (!await this.#ctx.scripts.session(client.id).subs(epoch, 'remove', topics)) {
      throw this.#owners.takenOver(client.id, epoch)
    }
    await this.#memory.remove(client, topics)
    const held = this.#held.get(client.id)
    for (const topic of topics) if (held?.delete(topic) === true) this.#ctx.links.release(topic)
  }

  /** aedes calls this for clean session 1 only; `open` has already cleared Redis then. */
  async clean (client: ClientRef): Promise<void> {
    if (!this.#owners.opened(client)) {
      await this.#ctx.scripts.session(client.id).subs(this.#owners.epochOf(client), 'clear')
    }
    this.forget(client.id)
  }

  /** aedes calls this for clean session 0 only: the stored subscriptions, restored here. */
  async restore (client: ClientRef): Promise<Subscription[]> {
    const subs = await this.stored(client.id)
    // Replaced in one go (in-memory work only between here and the mirror), and routes
    // held for filters the session no longer has are let go.
    await this.#memory.clean(client)
    const held = this.#held.get(client.id)
    const wanted = new Set(subs.filter(s => s.qos > 0 && !s.topic.startsWith('$share/')).map(s => s.topic))
    for (const topic of [...(held ?? [])]) {
      if (!wanted.has(topic)) {
        held?.delete(topic)
        this.#ctx.links.release(topic)
      }
    }
    await this.mirror(client, subs)
    return subs
  }

  /** The subscriptions of a session as stored on Redis. */
  async stored (clientId: string): Promise<Subscription[]> {
    const stored = await this.#ctx.redis.hgetall(this.#ctx.keys.session(clientId).subs)
    const subs: Subscription[] = []
    for (const [topic, json] of Object.entries(stored)) subs.push({ topic, ...(JSON.parse(json) as { qos: number }) })
    return subs
  }

  /**
   * Keeps this node's view of its own sessions' subscriptions, and their held routes
   * (`routed` collects a promise per new route, settled once peers route it here).
   */
  async mirror (client: ClientRef, subs: Subscription[], routed?: Array<Promise<void>>): Promise<void> {
    if (subs.length === 0) return
    await this.#memory.add(client, subs)
    let held = this.#held.get(client.id)
    for (const sub of subs) {
      // A shared subscription is a group member only while connected (the emitter's
      // groups): a parked session holds no route for it and gets no share of the group.
      if (sub.topic.startsWith('$share/')) continue
      if (sub.qos > 0 && held?.has(sub.topic) !== true) {
        held ??= new Set()
        held.add(sub.topic)
        const holding = this.#ctx.links.hold(sub.topic)
        routed?.push(holding)
      } else if (sub.qos === 0 && held?.delete(sub.topic) === true) {
        this.#ctx.links.release(sub.topic)
      }
    }
    if (held !== undefined) this.#held.set(client.id, held)
  }

  /** Drops what this node keeps of a session in memory (never touches Redis). */
  forget (clientId: string): void {
    void this.#memory.clean({ id: clientId })
    const held = this.#held.get(clientId)
    this.#held.delete(clientId)
    for (const topic of held ?? []) this.#ctx.links.release(topic)
  }
}

function subscriptionRecord (sub: Subscription): Record<string, unknown> {
  const { topic: _topic, clientId: _clientId, ...rest } = sub
  return rest
}
