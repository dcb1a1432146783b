/**
 * Prometheus metrics of one broker node. Each node has its own registry, so several
 * nodes in one process (tests) do not share counters.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

export interface MetricsSources {
  nodeId: string
  version: string
  mode: string
  connectedClients: () => number
  subscriptions: () => number
  retainedMessages: () => number
  persistentSessions: () => number
  bytes: () => { received: number, sent: number }
}

export interface BrokerMetrics {
  registry: Registry
  connections: Counter
  messagesReceived: Counter<'qos'>
  messagesSent: Counter<'qos'>
  messagesDropped: Counter<'reason'>
  clientErrors: Counter<'reason'>
}

export function createMetrics (sources: MetricsSources): BrokerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]

  new Gauge({ name: 'slotmq_info', help: 'Broker node identity (value is always 1)', labelNames: ['node_id', 'version', 'mode'], registers })
    .set({ node_id: sources.nodeId, version: sources.version, mode: sources.mode }, 1)
  gauge('slotmq_connected_clients', 'MQTT clients connected to this node now', sources.connectedClients)
  gauge('slotmq_subscriptions', 'Subscriptions of the clients connected to this node', sources.subscriptions)
  gauge('slotmq_retained_messages', 'Retained messages stored', sources.retainedMessages)
  gauge('slotmq_persistent_sessions', 'Persistent (clean session 0) sessions held, connected or not', sources.persistentSessions)
  byteCounter('slotmq_bytes_received_total', 'Bytes read from MQTT connections (TCP and WebSocket)', 'received')
  byteCounter('slotmq_bytes_sent_total', 'Bytes written to MQTT connections (TCP and WebSocket)', 'sent')

  return {
    registry,
    connections: new Counter({ name: 'slotmq_connections_total', help: 'MQTT connections accepted (CONNACK 0 sent)', registers }),
    messagesReceived: new Counter({ name: 'slotmq_messages_received_total', help: 'PUBLISH packets received from clients, by QoS', labelNames: ['qos'], registers }),
    messagesSent: new Counter({ name: 'slotmq_messages_sent_total', help: 'PUBLISH packets written to clients, by QoS', labelNames: ['qos'], registers }),
    messagesDropped: new Counter({ name: 'slotmq_messages_dropped_total', help: 'PUBLISH packets refused, by reason', labelNames: ['reason'], registers }),
    clientErrors: new Counter({ name: 'slotmq_client_errors_total', help: 'Connections closed because of a protocol error or bad input, by reason', labelNames: ['reason'], registers })
  }

  function gauge (name: string, help: string, read: () => number): void {
    new Gauge({ name, help, registers, collect () { this.set(read()) } }) // eslint-disable-line no-new
  }

  function byteCounter (name: string, help: string, which: 'received' | 'sent'): void {
    // the totals are read from the sockets when scraped; a counter is reset and set
    new Counter({ name, help, registers, collect () { this.reset(); this.inc(sources.bytes()[which]) } }) // eslint-disable-line no-new
  }
}
