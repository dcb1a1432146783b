// aedes-persistence 11 ships types for its callback factory only; slotmq uses the
// async in-memory class directly.
declare module 'aedes-persistence/asyncPersistence.js' {
  export default class MemoryPersistence {
    constructor (opts?: Record<string, unknown>)
    setup (broker: unknown): Promise<void>
    subscriptionsByClient (client: { id: string }): Promise<unknown[]>
    cleanSubscriptions (client: { id: string }): Promise<void>
    storeRetained (packet: { topic: string, payload: Buffer }): Promise<void>
    countOffline (): Promise<{ subscriptions: number, clients: number }>
    destroy (): Promise<void>
    [method: string]: unknown
  }
}
