/**
 * Keeps a node's local deliveries of peer messages in their arrival order while the work
 * some of them need first (queueing for offline sessions, handing a message to a session)
 * runs concurrently, pipelined to Redis: each delivery runs after every earlier one and
 * after its own work.
 */
export class DeliveryOrder {
  /** The last delivery queued; undefined when none is pending. */
  #last: Promise<void> | undefined

  /** Nothing is waiting: a delivery with no work of its own may run at once. */
  get idle (): boolean { return this.#last === undefined }

  /** Runs `then` after every earlier delivery and after `work`. */
  after (work: Promise<void> | undefined, then: () => void): void {
    const before = this.#last ?? Promise.resolve()
    const next = (work === undefined ? before : Promise.all([before, work])).then(then)
    this.#last = next
    void next.then(() => { if (this.#last === next) this.#last = undefined })
  }
}
