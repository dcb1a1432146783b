// aedes-persistence 11 ships types for its callback factory only; slotmq uses the
// async in-memory class directly.
declare module 'aedes-persistence/asyncPersistence.js' {
  export default class MemoryPersistence {
    constructor (opts?: Record<string, unknown>)
    setup (broker: unknown): Promise<void>
    subscriptionsByClient (client: { id: string }): Promise<unknown[]>
    cleanSubscriptions (client: { id: string }): Promise<void>
    addSubscriptions (client: { id: string }, subs: Array<{ topic: string, qos: number }>): Promise<void>
    removeSubscriptions (client: { id: string }, topics: string[]): Promise<void>
    subscriptionsByTopic (topic: string): Promise<unknown[]>
    outgoingEnqueueCombi (subs: unknown[], packet: unknown): Promise<void>
    storeRetained (packet: { topic: string, payload: Buffer }): Promise<void>
    createRetainedStreamCombi (patterns: string[]): import('node:stream').Readable
    createRetainedStream (pattern: string): import('node:stream').Readable
    countOffline (): Promise<{ subscriptions: number, clients: number }>
    destroy (): Promise<void>
    [method: string]: unknown
  }
}
