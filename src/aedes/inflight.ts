/**
 * `limits.maxInflight`: outgoing QoS 1/2 PUBLISH packets written to one connection and
 * not yet acknowledged (PUBACK for QoS 1, PUBCOMP for QoS 2), as Mosquitto's
 * max_inflight_messages and EMQX's max_inflight. aedes has no such window: it writes
 * every delivery at once and only the socket buffer pushes back.
 *
 * When the window is full, further deliveries to that connection wait in memory, in
 * order, and go out as acknowledgements come in. QoS 0 deliveries do not count towards
 * the window, but wait behind held QoS 1/2 ones so that the order of messages is kept.
 * At most `queueMax` deliveries wait per connection; beyond that a delivery is dropped
 * and counted (`slotmq_messages_dropped_total{reason="inflight_queue_full"}`). Waiting
 * deliveries of a persistent session are also in its stored queue (aedes queues QoS 1/2
 * for persistent sessions before delivering), so if the connection closes they are
 * replayed on reconnect; those of a clean session end with it, as its session does.
 * Replayed messages count towards the window too. An acknowledgement for a packet
 * identifier that is not in flight frees nothing.
 */
import type { BrokerMetrics } from '../metrics.js'
import type { ClientInternals, DeliverablePacket, Deliver } from './internals.js'
import type { LimitName } from './limits.js'

interface Window {
  /** Packet identifiers written and not yet acknowledged. */
  readonly ids: Set<number>
  /** Deliveries handed to aedes and not yet written. */
  passing: number
  readonly held: DeliverablePacket[]
}

export interface InflightLimit {
  /** Wraps the client's delivery functions; call after every other wrapper of deliverQoS. */
  onClient: (client: ClientInternals) => void
  /** A PUBLISH was written to a client (from the write observer). */
  sent: (client: object, qos: number, messageId: number | undefined) => void
}

export function createInflightLimit (opts: {
  max: number
  queueMax: number
  metrics: BrokerMetrics
  refused: (limit: LimitName, fields: Record<string, unknown>) => void
}): InflightLimit {
  const windows = new WeakMap<object, Window>()
  return {
    sent (client, qos, messageId) {
      if (qos > 0 && messageId !== undefined) windows.get(client)?.ids.add(messageId)
    },
    onClient (client) {
      if (opts.max === 0) return
      const w: Window = { ids: new Set(), passing: 0, held: [] }
      windows.set(client, w)
      const deliverQoS = client.deliverQoS
      const deliver0 = client.deliver0
      const full = (): boolean => w.ids.size + w.passing >= opts.max
      const pass: Deliver = (packet, cb) => {
        w.passing++
        let done = false
        deliverQoS(packet, () => {
          if (!done) {
            done = true
            w.passing--
            drain()
          }
          cb()
        })
      }
      const drain = (): void => {
        while (w.held.length > 0) {
          const next = w.held[0] as DeliverablePacket
          if (next.qos > 0 && full()) return
          w.held.shift()
          if (next.qos > 0) pass(next, noop)
          else deliver0(next, noop)
        }
      }
      // The emitter's callback is called at once: a client that does not acknowledge
      // must not hold up deliveries to everyone else.
      const hold: Deliver = (packet, cb) => {
        if (w.held.length >= opts.queueMax) {
          opts.metrics.messagesDropped.inc({ reason: 'inflight_queue_full' })
          opts.refused('inflight', { clientId: client.id, max: opts.max, dropped: true })
        } else {
          if (packet.qos > 0) opts.refused('inflight', { clientId: client.id, max: opts.max })
          w.held.push(packet)
        }
        cb()
      }
      client.deliverQoS = (packet, cb) => {
        if (packet.qos === 0) return deliverQoS(packet, cb)
        if (w.held.length > 0 || full()) return hold(packet, cb)
        pass(packet, cb)
      }
      client.deliver0 = (packet, cb) => {
        if (w.held.length > 0) return hold(packet, cb)
        deliver0(packet, cb)
      }
      ;(client._parser as unknown as { on: (event: 'packet', l: (p: { cmd: string, messageId?: number }) => void) => void })
        .on('packet', (p) => {
          if ((p.cmd === 'puback' || p.cmd === 'pubcomp') && p.messageId !== undefined && w.ids.delete(p.messageId)) drain()
        })
      client.conn.once('close', () => { w.held.length = 0 })
    }
  }
}

function noop (): void {}
