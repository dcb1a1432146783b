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

/**
 * One connection's held PUBACKs: in arrival order (`entries` from `head` on), and the
 * waiting ones by packet identifier (a DUP resent before its PUBACK makes two). A burst
 * of thousands costs O(1) per PUBACK, not a scan.
 */
interface HeldQueue { entries: HeldAck[], head: number, waiting: Map<number | undefined, HeldAck[]> }

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
  const queues = new WeakMap<object, HeldQueue>()

  const release = (client: object, q: HeldQueue): void => {
    while (q.head < q.entries.length && q.entries[q.head]?.state !== 'waiting') {
      const next = q.entries[q.head++] as HeldAck
      if (next.state === 'ready') write(client, next.packet)
    }
    if (q.head === q.entries.length) {
      queues.delete(client)
    } else if (q.head > 1024 && q.head * 2 > q.entries.length) {
      q.entries = q.entries.slice(q.head)
      q.head = 0
    }
  }

  const settle = (client: object, messageId: number | undefined, ok: boolean): void => {
    const q = queues.get(client)
    const list = q?.waiting.get(messageId)
    const entry = list?.shift()
    if (q === undefined || list === undefined || entry === undefined) return
    if (list.length === 0) q.waiting.delete(messageId)
    entry.state = ok ? 'ready' : 'failed'
    release(client, q)
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
      let q = queues.get(client)
      if (q === undefined) queues.set(client, q = { entries: [], head: 0, waiting: new Map() })
      const entry: HeldAck = { messageId: packet.messageId, packet, state: 'waiting' }
      q.entries.push(entry)
      const list = q.waiting.get(entry.messageId)
      if (list === undefined) q.waiting.set(entry.messageId, [entry])
      else list.push(entry)
      return true
    }
  }
}
