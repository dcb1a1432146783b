/**
 * Draining a node for a rolling restart: it stops accepting connections (its /ready turns
 * 503, so a load balancer stops sending clients), closes its clients' connections in
 * batches so that they reconnect to other nodes without a thundering herd, without
 * publishing their wills (the clients are fine; the node is going), then stops like a
 * SIGTERM: its parked sessions are handed over to the other nodes, and it leaves.
 */
import type { Aedes, Client } from 'aedes'
import type { Logger } from '../logger.js'
import { clientsOf } from '../aedes/internals.js'

export interface DrainDeps {
  aedes: Aedes
  /** Stops the MQTT listeners accepting new connections (open ones stay). */
  stopAccepting: () => void
  /** Stops the node (hand-over, leave, release the ports). */
  close: () => Promise<void>
  batchSize: number
  batchIntervalMs: number
  log: Logger
}

export class Drain {
  readonly #deps: DrainDeps
  #running: Promise<void> | undefined

  constructor (deps: DrainDeps) {
    this.#deps = deps
  }

  get draining (): boolean { return this.#running !== undefined }

  /** Starts draining (once); resolves when the node has stopped. */
  async run (): Promise<void> {
    this.#running ??= this.#drain()
    await this.#running
  }

  async #drain (): Promise<void> {
    const { aedes, log } = this.#deps
    log.warn({ clients: aedes.connectedClients, batchSize: this.#deps.batchSize, batchIntervalMs: this.#deps.batchIntervalMs }, 'draining: no new connections; clients are disconnected in batches, without wills')
    this.#deps.stopAccepting()
    const closed = new WeakSet<Client>()
    let disconnected = 0
    for (;;) {
      const batch = connected(aedes).filter(c => !closed.has(c)).slice(0, this.#deps.batchSize)
      if (batch.length === 0) break
      for (const client of batch) {
        closed.add(client)
        disconnectWithoutWill(client)
        disconnected++
      }
      await new Promise(resolve => setTimeout(resolve, this.#deps.batchIntervalMs))
    }
    log.info({ disconnected }, 'drained: stopping')
    await this.#deps.close()
  }
}

/** The clients connected to this node now. */
export function connected (aedes: Aedes): Client[] {
  return Object.values(clientsOf(aedes)).filter((c): c is Client => c !== undefined)
}

/** Closes a client's connection as an operator's decision: its will is not published. */
export function disconnectWithoutWill (client: Client): void {
  (client as unknown as { will: unknown }).will = null
  client.close()
}
