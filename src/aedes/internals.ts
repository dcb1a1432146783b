/**
 * The private parts of aedes 1.2.0 (pinned exactly) that slotmq touches to neutralise
 * its known hazards. Everything that reaches past aedes' public API goes through these
 * types, so an aedes upgrade shows up as a type error or a failing hazard test.
 */
import type { Aedes, Client } from 'aedes'
import { Qlobber } from 'qlobber'
import { TOPIC_MATCHING } from '../topics.js'

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
  packet: { length: number, cmd?: string, messageId?: number, unsubscriptions?: string[] }
  /** The parse error of the packet being parsed, once there is one. */
  error: Error | null | undefined
  /** The CONNECT of this connection, once parsed (mqtt-packet keeps it as its settings). */
  settings?: { protocolVersion?: number }
  /** The aedes client reading through this parser (set by aedes). */
  client?: { conn?: { write: (chunk: Buffer) => unknown, writable?: boolean } }
  _list: {
    slice: (start: number, end: number) => Buffer
    readUInt8: (offset: number) => number
    readUInt16BE: (offset: number) => number
    toString: (encoding: 'utf8', start: number, end: number) => string
    consume: (bytes: number) => void
  }
  _pos: number
  _parseHeader: () => boolean
  _parseLength: () => boolean
  _parseString: () => string | null
  _parseConnect: () => unknown
  _parseMessageId: () => boolean
  _parseConfirmation: () => unknown
  _parseUnsubscribe: () => unknown
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

/** mqemitter 7 (aedes' `mq`), as far as its trie goes. */
export interface EmitterMatcher {
  _matcher?: unknown
}

/**
 * Gives mqemitter's trie slotmq's matching (TOPIC_MATCHING): mqemitter builds it with
 * qlobber's default depth of 100 levels. Only while nothing is subscribed: the old trie's
 * entries are not carried over.
 */
export function useTopicMatching (mq: EmitterMatcher): void {
  const current = mq._matcher as { match?: unknown, _trie?: Map<unknown, unknown> } | undefined
  if (current === undefined || typeof current.match !== 'function') throw new Error('the emitter is not an mqemitter 7: its trie cannot be replaced')
  if ((current._trie?.size ?? 0) > 0) throw new Error('the emitter already has subscriptions: replace its trie before anything subscribes')
  mq._matcher = new Qlobber(TOPIC_MATCHING)
}

/**
 * Packet identifiers of a new session start at 1, as Mosquitto's do (aedes starts every
 * connection at a random one). Only for a session with nothing stored: the identifiers
 * of a resumed session's messages in flight must not be handed out again.
 */
export function firstPacketIdentifier (client: object): void {
  (client as { _nextId: number })._nextId = 1
}
