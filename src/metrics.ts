/**
 * Prometheus metrics of one broker node. Each node has its own registry, so several
 * nodes in one process (tests) do not share counters. Names follow Prometheus' rules:
 * base units (seconds, bytes) after the verb, `_total` last on counters. Every labelled
 * counter has a series for each known label value from the start (0 until it happens),
 * so that alerts on `rate()` or `increase()` work before the first event.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { LimitName } from './aedes/limits.js'
import { CLIENT_ERROR_REASONS } from './client-errors.js'

/** Every LimitName (the type check below fails when one is missing). */
const LIMITS = ['connections', 'connection_rate', 'topic_length', 'topic_levels', 'subscriptions', 'publish_rate', 'packet_size', 'inflight'] as const
type MissingLimit = Exclude<LimitName, typeof LIMITS[number]>
const limitsComplete: [MissingLimit] extends [never] ? true : never = true

/** Latency buckets in seconds: 0.5 ms to 10 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** ioredis connection states (`client.status`). */
export const REDIS_STATES = ['wait', 'connecting', 'connect', 'ready', 'reconnecting', 'disconnecting', 'close', 'end'] as const

export interface MetricsSources {
  nodeId: string
  version: string
  mode: string
  connectedClients: () => number
  subscriptions: () => number
  retainedMessages: () => number
  persistentSessions: () => number
  bytes: () => { received: number, sent: number }
  /** Routing between nodes (Redis modes only). */
  cluster?: () => ClusterStats
  /** Sessions on Redis (Redis modes only). */
  sessions?: () => SessionStats
  /** Shared subscription groups. */
  shared?: () => SharedStats
  /** Redis modes: the state of each Redis client by role (commands, subscriber). */
  redisStates?: () => Record<string, string>
  /** Redis modes: every `call` label of slotmq_redis_call_duration_seconds, for the series created at start. */
  redisCalls?: readonly string[]
}

export interface SharedStats {
  /** Messages handed to a member of a shared group on this node. */
  local: number
  /** Messages sent to another node for one of its members. */
  sent: number
  /** Messages for a group with no member anywhere. */
  dropped: number
  /** Messages given to another member because theirs left without acknowledging them. */
  redispatched: number
}

export interface SessionStats {
  queueDropped: number
  staleWrites: number
  kicked: number
  deadWills: number
  adopted: number
  released: number
  spilled: number
  inMemory: number
}

export interface ClusterStats {
  peers: number
  forwarded: number
  received: number
  frameErrors: number
  routeReloads: number
  inboxResubscribes: number
  inboxPingsAnswered: number
  routeAckTimeouts: number
  malformedFrames: number
}

export interface BrokerMetrics {
  registry: Registry
  connections: Counter
  messagesReceived: Counter<'qos'>
  messagesSent: Counter<'qos'>
  messagesDropped: Counter<'reason'>
  clientErrors: Counter<'reason'>
  aclDenied: Counter<'action'>
  authRefused: Counter<'reason'>
  limitRefused: Counter<'limit'>
  tlsReloads: Counter<'result'>
  /**
   * PUBLISH accepted on this node (origin local) or on the peer that sent it (origin peer:
   * the peer's wall clock as its frame carries it, or the frame's arrival when the peer
   * sends no publish times) until written to a subscriber.
   */
  deliveryLatency: Histogram<'origin'>
  /** Round trip of each Lua script call (and SPUBLISH of frames) to Redis. */
  redisDuration: Histogram<'call'>
  /** A new subscription until every live peer has its route (the SUBACK waits for it). */
  subscribePropagation: Histogram
  /** The session-open script plus the kick of a previous owner, at CONNECT. */
  sessionOpen: Histogram
  /** CONNECT read until CONNACK written (authentication and the session open included). */
  connectDuration: Histogram
}

export function createMetrics (sources: MetricsSources): BrokerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]

  new Gauge({ name: 'slotmq_info', help: 'Broker node identity (value is always 1)', labelNames: ['node_id', 'version', 'mode'], registers })
    .set({ node_id: sources.nodeId, version: sources.version, mode: sources.mode }, 1)
  gauge('slotmq_connected_clients', 'MQTT clients connected to this node now', sources.connectedClients)
  gauge('slotmq_subscriptions', 'Subscriptions of the clients connected to this node', sources.subscriptions)
  gauge('slotmq_retained_messages', sources.cluster === undefined
    ? 'Retained messages stored'
    : 'Retained messages stored, cluster-wide: every node reports the same count (aggregate with max(), not sum())', sources.retainedMessages)
  gauge('slotmq_persistent_sessions', 'Persistent (clean session 0) sessions held, connected or not', sources.persistentSessions)
  byteCounter('slotmq_received_bytes_total', 'Bytes read from MQTT connections (TCP and WebSocket)', 'received')
  byteCounter('slotmq_sent_bytes_total', 'Bytes written to MQTT connections (TCP and WebSocket)', 'sent')
  const redisStates = sources.redisStates
  if (redisStates !== undefined) {
    new Gauge({ // eslint-disable-line no-new
      name: 'slotmq_redis_connection_state',
      help: 'State of each Redis client of this node by role (commands, subscriber): 1 for its current ioredis state, 0 for the others',
      labelNames: ['role', 'state'],
      registers,
      collect () {
        for (const [role, current] of Object.entries(redisStates())) {
          for (const state of REDIS_STATES) this.set({ role, state }, current === state ? 1 : 0)
        }
      }
    })
  }
  const cluster = sources.cluster
  if (cluster !== undefined) {
    gauge('slotmq_cluster_peers', 'Live peer nodes this node routes to', () => cluster().peers)
    total('slotmq_cluster_forwarded_total', 'Publishes sent to peer nodes (one per target node)', () => cluster().forwarded)
    total('slotmq_cluster_received_total', 'Publishes received from peer nodes', () => cluster().received)
    total('slotmq_cluster_frame_errors_total', 'Frames to peers that Redis did not accept', () => cluster().frameErrors)
    total('slotmq_cluster_route_reloads_total', 'Peer route sets reloaded from Redis (gaps, joins, digest mismatches)', () => cluster().routeReloads)
    total('slotmq_cluster_inbox_resubscribes_total', 'Inbox subscriptions renewed after a lost ping', () => cluster().inboxResubscribes)
    total('slotmq_cluster_route_ack_timeouts_total', 'Route changes a live peer did not acknowledge in time (the subscribe went on without it)', () => cluster().routeAckTimeouts)
    total('slotmq_cluster_inbox_pings_answered_total', 'Pings this node sent to its own inbox that came back', () => cluster().inboxPingsAnswered)
    total('slotmq_cluster_malformed_frames_total', 'Inbox frames dropped because they could not be decoded', () => cluster().malformedFrames)
  }
  const shared = sources.shared
  if (shared !== undefined) {
    total('slotmq_shared_delivered_total', 'Messages handed to a member of a shared subscription group on this node', () => shared().local)
    total('slotmq_shared_sent_total', 'Messages sent to another node for one of its shared subscription group members', () => shared().sent)
    total('slotmq_shared_dropped_total', 'Messages for a shared subscription group that had no member anywhere', () => shared().dropped)
    total('slotmq_shared_redispatched_total', 'Messages given to another group member because theirs disconnected without acknowledging them', () => shared().redispatched)
  }
  const sessions = sources.sessions
  if (sessions !== undefined) {
    total('slotmq_session_queue_dropped_total', 'Queued QoS 1/2 messages dropped because a session queue was full (oldest first)', () => sessions().queueDropped)
    total('slotmq_session_stale_writes_total', 'Session writes refused because a newer connection owned the session (fencing)', () => sessions().staleWrites)
    total('slotmq_session_takeovers_total', 'Connections closed here because their session was taken over on another node', () => sessions().kicked)
    total('slotmq_session_dead_node_wills_total', 'Wills of dead nodes\' connections published by this node as their reaper', () => sessions().deadWills)
    total('slotmq_session_adopted_total', 'Parked sessions of dead nodes adopted by this node', () => sessions().adopted)
    total('slotmq_session_releases_total', 'Sessions taken over by this node whose previous owner confirmed it let go (until then, messages to the new connection carry DUP)', () => sessions().released)
    total('slotmq_session_spilled_total', 'QoS 1 messages a connected persistent session held in memory without an acknowledgement for 2 s, then queued on Redis', () => sessions().spilled)
    gauge('slotmq_session_messages_in_memory', 'QoS 1 messages given to connected persistent sessions from memory (durable in the journal), not yet acknowledged', () => sessions().inMemory)
  }

  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Histogram<L> =>
    new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers })
  const metrics: BrokerMetrics = {
    registry,
    connections: new Counter({ name: 'slotmq_connections_total', help: 'MQTT connections accepted (CONNACK 0 sent)', registers }),
    messagesReceived: new Counter({ name: 'slotmq_messages_received_total', help: 'PUBLISH packets received from clients, by QoS', labelNames: ['qos'], registers }),
    messagesSent: new Counter({ name: 'slotmq_messages_sent_total', help: 'PUBLISH packets written to clients, by QoS', labelNames: ['qos'], registers }),
    messagesDropped: new Counter({ name: 'slotmq_messages_dropped_total', help: 'PUBLISH packets refused, by reason', labelNames: ['reason'], registers }),
    aclDenied: new Counter({ name: 'slotmq_acl_denied_total', help: 'PUBLISH packets dropped, SUBSCRIBE filters refused (SUBACK 0x80) and deliveries withheld by the ACL, by action (publish, subscribe, deliver)', labelNames: ['action'], registers }),
    authRefused: new Counter({ name: 'slotmq_auth_refused_total', help: 'CONNECTs refused by authentication, by reason (bad_credentials: CONNACK 0x04, not_authorized: 0x05)', labelNames: ['reason'], registers }),
    clientErrors: new Counter({ name: 'slotmq_client_errors_total', help: 'Connections closed because of a protocol error or bad input, by reason', labelNames: ['reason'], registers }),
    limitRefused: new Counter({ name: 'slotmq_limit_refused_total', help: 'Connections, packets, subscriptions and deliveries refused, closed, dropped or delayed by a configured limit, by limit', labelNames: ['limit'], registers }),
    tlsReloads: new Counter({ name: 'slotmq_tls_reloads_total', help: 'TLS certificate reloads after a file changed, by result (ok, failed)', labelNames: ['result'], registers }),
    deliveryLatency: histogram('slotmq_delivery_latency_seconds', 'From a PUBLISH accepted on this node (origin local), or on the node that published it (origin peer: that node\'s wall clock, carried in the inbox frame, against this node\'s; assumes NTP-synchronised clocks, a negative difference counts as 0; timed from the frame\'s arrival when the publishing node runs a version that sends no publish time), to the PUBLISH written to a subscriber', ['origin']),
    redisDuration: histogram('slotmq_redis_call_duration_seconds', 'Round trip of each Lua script call to Redis, by script (file name without .lua), and of the SPUBLISH (PUBLISH without sharded pub/sub) of frames to peers\' inboxes', ['call']),
    subscribePropagation: histogram('slotmq_subscribe_propagation_seconds', 'A new topic filter on this node until every live peer acknowledged its route (SUBACK waits for it)'),
    sessionOpen: histogram('slotmq_session_open_duration_seconds', 'Session open at CONNECT: the takeover script on the client\'s slot and the kick of a previous owner (Redis modes)'),
    connectDuration: histogram('slotmq_connect_duration_seconds', 'CONNECT read until CONNACK written, authentication and session open included')
  }
  // The series of every known label value, from the start.
  for (const qos of ['0', '1', '2']) {
    metrics.messagesReceived.inc({ qos }, 0)
    metrics.messagesSent.inc({ qos }, 0)
  }
  for (const reason of CLIENT_ERROR_REASONS) {
    metrics.clientErrors.inc({ reason }, 0)
    metrics.messagesDropped.inc({ reason }, 0)
  }
  for (const action of ['publish', 'subscribe', 'deliver']) metrics.aclDenied.inc({ action }, 0)
  for (const reason of ['bad_credentials', 'not_authorized']) metrics.authRefused.inc({ reason }, 0)
  if (limitsComplete) for (const limit of LIMITS) metrics.limitRefused.inc({ limit }, 0)
  for (const result of ['ok', 'failed']) metrics.tlsReloads.inc({ result }, 0)
  for (const origin of ['local', 'peer']) metrics.deliveryLatency.zero({ origin })
  for (const call of sources.redisCalls ?? []) metrics.redisDuration.zero({ call })
  return metrics

  function gauge (name: string, help: string, read: () => number): void {
    new Gauge({ name, help, registers, collect () { this.set(read()) } }) // eslint-disable-line no-new
  }

  function byteCounter (name: string, help: string, which: 'received' | 'sent'): void {
    total(name, help, () => sources.bytes()[which])
  }

  /** A counter whose total is kept elsewhere and read when scraped (reset, then set). */
  function total (name: string, help: string, read: () => number): void {
    new Counter({ name, help, registers, collect () { this.reset(); this.inc(read()) } }) // eslint-disable-line no-new
  }
}
