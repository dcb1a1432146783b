/**
 * What every part of the sessions layer shares: the packet and client shapes it handles,
 * the settings and counters of a node's sessions, what it needs from routing (the peer
 * links), and the in-memory state of the sessions this node owns.
 */
import type { Aedes } from 'aedes'
import type { Logger } from '../logger.js'
import type { RedisClient } from '../redis/client.js'
import type { KeySpace } from '../redis/keys.js'
import type { Scripts } from '../redis/scripts.js'

export type Packet = Record<string, unknown> & { topic?: string, messageId?: number | undefined }
export interface Subscription { topic: string, qos: number, clientId?: string, [field: string]: unknown }
export interface ClientRef { id: string, clean?: boolean }

/** The parts of an aedes client the session code uses. */
export interface ClientLike {
  id: string
  clean?: boolean
  /** aedes' will of the connection, published when it closes without DISCONNECT. */
  will?: unknown
  /** Set by aedes when the connection starts closing. */
  closed?: boolean
  close: (done?: () => void) => void
  deliverQoS?: (packet: Packet, cb: () => void) => void
}

export interface HeldRoutes {
  /** Resolves once the peers route `filter` here (or stopped waiting for them). */
  hold: (filter: string) => Promise<void>
  release: (filter: string) => void
}

/** What the sessions need from the cluster: identity, routes, the peer records they send, journals. */
export interface SessionLinks extends HeldRoutes {
  memberId: () => string
  /** Tells `owner` to close its connection of `clientId` unless it is newer than `epoch`. */
  kick: (owner: string, clientId: string, epoch: string) => void
  /** Hands a QoS 1/2 message for one session to the node that owns it now. */
  forward: (owner: string, clientId: string, packet: Packet) => void
  /** Tells `owner` it now owns `clientId`'s parked session. */
  adopt: (owner: string, clientId: string, epoch: string) => void
  /** The QoS 1/2 messages sent to a member that its reaper must replay. */
  journal: (memberId: string) => AsyncIterable<{ message: Packet, clientId?: string, origin: { sender: string, seq: number } }>
  dropJournal: (memberId: string) => Promise<void>
}

export interface SessionSettings {
  /** Outgoing queue cap per session; the oldest entries are dropped beyond it. */
  queueCap: number
  /** A parked persistent session is deleted this long after its client left. */
  expiryMs: number
  /**
   * How long a session remembers the messages its client acknowledged: longer than a dead
   * node's journal can hold them (its retention plus the time to reap it), so replaying
   * the journal to the session does not send them again.
   */
  ackMemoryMs: number
}

export interface SessionCounters {
  /** Queued messages dropped because a queue was full. */
  queueDropped: number
  /** Writes refused because another connection owned the session. */
  staleWrites: number
  /** Connections closed because another node took their session over. */
  kicked: number
  /** Wills of dead nodes' connections this node published as their reaper. */
  deadWills: number
  /** Parked sessions this node adopted from dead nodes. */
  adopted: number
  /** Sessions taken over here whose previous owner on another node released them. */
  released: number
  /** Messages kept in memory (deferred.ts) queued on Redis for want of an acknowledgement. */
  spilled: number
  /** Messages kept in memory now, given to a connection and not yet acknowledged. */
  inMemory: number
}

/** A session this node owns, connected or parked. */
export interface OwnedSession {
  epoch: string
  persistent: boolean
  /** Set once another node took the session over: where late messages go. */
  movedTo?: string
  dropTimer?: NodeJS.Timeout
  /** Parked (no connection here): when Redis expires it, unless a client resumes it. */
  parkedUntil?: number
}

/** What the parts of the sessions layer are built with. */
export interface SessionContext {
  redis: RedisClient
  keys: KeySpace
  scripts: Scripts
  links: SessionLinks
  settings: SessionSettings
  log: Logger | undefined
  counters: SessionCounters
  /** The aedes broker, once set up. */
  broker: () => Aedes | undefined
}

/** A queued message's identity: its origin broker and counter (a PUBREL: its identifier). */
export function refOf (packet: Packet): string {
  if (packet.cmd === 'pubrel' || packet.brokerId === undefined || packet.brokerId === null) return `~${String(packet.messageId)}`
  return `${String(packet.brokerId)}:${String(packet.brokerCounter)}`
}

/** The packet as a subscription of `qos` receives it. */
export function capQos (packet: Packet, qos: number): Packet {
  return typeof packet.qos === 'number' && packet.qos > qos ? { ...packet, qos } : packet
}

export const noop = (): void => {}
