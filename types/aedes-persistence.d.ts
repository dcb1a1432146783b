// aedes-persistence 11 ships types for its callback factory only; slotmq uses the
// async in-memory class directly.
declare module 'aedes-persistence/asyncPersistence.js' {
  type Packet = Record<string, unknown>
  type ClientRef = { id: string }
  export default class MemoryPersistence {
    constructor (opts?: Record<string, unknown>)
    setup (broker: unknown): Promise<void>
    subscriptionsByClient (client: ClientRef): Promise<unknown[]>
    cleanSubscriptions (client: ClientRef): Promise<void>
    addSubscriptions (client: ClientRef, subs: Array<{ topic: string, qos: number }>): Promise<void>
    removeSubscriptions (client: ClientRef, topics: string[]): Promise<void>
    subscriptionsByTopic (topic: string): Promise<unknown[]>
    outgoingEnqueue (sub: { clientId?: string }, packet: Packet): Promise<void>
    outgoingEnqueueCombi (subs: Array<{ clientId?: string }>, packet: Packet): Promise<void>
    outgoingUpdate (client: ClientRef, packet: Packet): Promise<void>
    outgoingClearMessageId (client: ClientRef, packet: Packet | number): Promise<Packet | undefined>
    outgoingStream (client: ClientRef): import('node:stream').Readable
    incomingStorePacket (client: ClientRef, packet: Packet): Promise<void>
    incomingGetPacket (client: ClientRef, packet: Packet): Promise<Packet>
    incomingDelPacket (client: ClientRef, packet: Packet): Promise<void>
    cleanIncoming (client: ClientRef): Promise<void>
    putWill (client: ClientRef, packet: Packet): Promise<void>
    getWill (client: ClientRef): Promise<Packet | undefined>
    delWill (client: ClientRef): Promise<Packet | undefined>
    streamWill (brokers?: Record<string, unknown>): import('node:stream').Readable
    getClientList (topic: string): import('node:stream').Readable
    storeRetained (packet: { topic: string, payload: Buffer }): Promise<void>
    createRetainedStreamCombi (patterns: string[]): import('node:stream').Readable
    createRetainedStream (pattern: string): import('node:stream').Readable
    countOffline (): Promise<{ subscriptions: number, clients: number }>
    destroy (): Promise<void>
  }
}
