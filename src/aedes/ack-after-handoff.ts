/**
 * Acknowledged means handed off. aedes 1.2.0 writes the PUBACK of a QoS 1 PUBLISH before it
 * calls `broker.publish` (lib/handlers/publish.js), so a node killed right after a burst
 * had acknowledged messages that never reached the retained store, an offline queue or
 * Redis. Here the PUBACK is held back (the write hook hands it over instead of writing
 * it) until `broker.publish` for that packet has completed: retained stored, queued for
 * offline sessions, every peer's frame accepted by Redis. A failed publish is never
 * acknowledged (aedes closes the connection on the error; the client sends it again).
 *
 * PUBACKs leave in the order their PUBLISH packets arrived [MQTT-4.6.0-2]: one that is
 * ready waits for those before it. A burst is still pipelined: aedes dispatches every
 * packet of a socket read at once, so their Redis writes share round trips.
 * (QoS 2 needs nothing: aedes stores, publishes, then writes the PUBREC.)
 */
import type { Aedes } from 'aedes'

interface HeldAck { messageId: number | undefined, packet: object, state: 'waiting' | 'ready' | 'failed' }

export interface AckGate {
  /** The write hook offers each PUBACK; true when it is held (written later by `write`). */
  hold: (client: object, packet: { messageId?: number }) => boolean
}

type Publish = (packet: { qos?: number, messageId?: number }, client?: unknown, done?: (err?: Error | null) => void) => void

/**
 * Wraps `aedes.publish` (install it after every other wrapper of `publish`, so its
 * completion is the last word) and returns the gate the write hook consults.
 * `write(client, packet)` writes a released PUBACK past the gate.
 */
export function installAckGate (aedes: Aedes, write: (client: object, packet: object) => void): AckGate {
  const queues = new WeakMap<object, HeldAck[]>()

  const release = (client: object, queue: HeldAck[]): void => {
    while (queue.length > 0 && queue[0]?.state !== 'waiting') {
      const next = queue.shift() as HeldAck
      if (next.state === 'ready') write(client, next.packet)
    }
    if (queue.length === 0) queues.delete(client)
  }

  const settle = (client: object, messageId: number | undefined, ok: boolean): void => {
    const queue = queues.get(client)
    if (queue === undefined) return
    const entry = queue.find(e => e.state === 'waiting' && e.messageId === messageId)
    if (entry === undefined) return
    entry.state = ok ? 'ready' : 'failed'
    release(client, queue)
  }

  const target = aedes as unknown as { publish: Publish }
  const publish = target.publish.bind(aedes)
  target.publish = (packet, client, done) => {
    if (typeof client === 'function') return publish(packet, client as (err?: Error | null) => void)
    if (client === null || client === undefined || packet.qos !== 1 || !queues.has(client)) return publish(packet, client, done)
    const from = client
    publish(packet, client, (err) => {
      settle(from, packet.messageId, err === undefined || err === null)
      done?.(err)
    })
  }

  return {
    hold (client, packet) {
      let queue = queues.get(client)
      if (queue === undefined) queues.set(client, queue = [])
      queue.push({ messageId: packet.messageId, packet, state: 'waiting' })
      return true
    }
  }
}
