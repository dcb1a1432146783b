/**
 * The private parts of aedes 1.2.0 (pinned exactly) that slotmq touches to neutralise
 * its known hazards. Everything that reaches past aedes' public API goes through these
 * types, so an aedes upgrade shows up as a type error or a failing hazard test.
 */
import type { Aedes, Client } from 'aedes'
import type { Qlobber } from 'qlobber'

export type Deliver = (packet: DeliverablePacket, cb: () => void) => void

export interface DeliverablePacket {
  topic: string
  qos: 0 | 1 | 2
  retain: boolean
  payload: Buffer
  brokerId?: string | null
  brokerCounter?: number
  [field: string]: unknown
}

/** aedes' per-subscription record (lib/handlers/subscribe.js Subscription). */
export interface SubscriptionRecord {
  qos: 0 | 1 | 2
  func: Deliver
}

/** mqtt-packet's Parser, as far as the guards need it. */
export interface PacketParser {
  packet: { length: number, cmd?: string }
  _list: { slice: (start: number, end: number) => Buffer }
  _pos: number
  _parseLength: () => boolean
  _parseString: () => string | null
  _emitError: (err: Error) => void
}

export interface ClientInternals extends Client {
  broker: Aedes
  duplicates: Record<string, number>
  subscriptions: Record<string, SubscriptionRecord>
  deliver0: Deliver
  deliverQoS: Deliver
  _parser: PacketParser
  /** Set by slotmq: topic filters of this client with their granted QoS, for retained delivery. */
  slotmqFilters?: Qlobber<number> | undefined
}

export function internals (client: Client): ClientInternals {
  return client as ClientInternals
}

/** aedes' registry of connected clients by id (`broker.clients`, not in its typings). */
export function clientsOf (aedes: Aedes): Record<string, Client | undefined> {
  return (aedes as unknown as { clients: Record<string, Client | undefined> }).clients
}

/**
 * aedes' best-effort cross-node takeover: every broker closes its local client when any
 * broker announces a client with the same id on `$SYS/<id>/new/clients`, whatever the
 * order of the two connects, so two racing connects can both lose. In Redis modes the
 * fenced session script decides instead, so this listener is never registered.
 */
export function isAedesTakeoverListener (topic: string, listener: { name: string }): boolean {
  return topic === '$SYS/+/new/clients' && listener.name === 'closeSameClients'
}

/**
 * aedes' will sweep (every 4 heartbeats, on every node) publishes the wills of brokers it
 * has not heard from, possibly twice. In Redis modes the reaper of a dead node's lease
 * publishes them, once; this stops aedes' sweep.
 */
export function stopAedesWillSweep (broker: Aedes): void {
  clearInterval((broker as unknown as { _clearWillInterval?: NodeJS.Timeout })._clearWillInterval)
}
