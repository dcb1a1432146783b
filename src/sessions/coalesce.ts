/**
 * Calls made in one turn of the event loop for the same key, run as one: each caller
 * gets the outcome of the whole batch. Used to write a connection's packet identifiers
 * and acknowledgements with one script call per batch instead of one per message.
 */
type Run<T> = (key: string, items: T[]) => Promise<void>

interface Batch<T> {
  items: T[]
  waiters: Array<{ resolve: () => void, reject: (err: unknown) => void }>
}

export class Coalescer<T> {
  readonly #run: Run<T>
  readonly #max: number
  readonly #pending = new Map<string, Batch<T>>()

  constructor (run: Run<T>, max = 100) {
    this.#run = run
    this.#max = max
  }

  async add (key: string, item: T): Promise<void> {
    let batch = this.#pending.get(key)
    if (batch === undefined) {
      const fresh: Batch<T> = batch = { items: [], waiters: [] }
      this.#pending.set(key, fresh)
      setImmediate(() => { this.#flush(key, fresh) })
    }
    batch.items.push(item)
    const done = new Promise<void>((resolve, reject) => { batch.waiters.push({ resolve, reject }) })
    if (batch.items.length >= this.#max) this.#flush(key, batch)
    await done
  }

  #flush (key: string, batch: Batch<T>): void {
    if (this.#pending.get(key) !== batch) return
    this.#pending.delete(key)
    this.#run(key, batch.items).then(
      () => { for (const w of batch.waiters) w.resolve() },
      (err: unknown) => { for (const w of batch.waiters) w.reject(err) }
    )
  }
}
