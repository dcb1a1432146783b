/**
 * One observation point on every packet aedes writes: mqtt-packet's writeToStream.
 *
 * - CONNACK Session Present, decided by slotmq's session store: aedes 1.2.0 sets it only
 *   when the stored session has subscriptions, but a persistent session without
 *   subscriptions is still a session [MQTT-3.2.2-2], and aedes builds the CONNACK inside
 *   its connect handler with no hook in between. MQTT 3.1 has no Session Present: the
 *   first byte of its CONNACK is reserved and always 0, whatever aedes or the store say.
 * - PUBREL: offered to the observer (`pubrelSent`), which notes what the client's next
 *   acknowledgement of that packet identifier must be (ack-types.ts).
 * - An accepting CONNACK: the observer learns whether the session was resumed (`accepted`),
 *   before anything else is written to the connection.
 * - Outgoing PUBLISH counts for metrics: what was really written, after every filter.
 * - Coalescing: aedes writes each delivery from its own setImmediate, and mqtt-packet
 *   uncorks after every packet, so every packet to a client was one writev system call.
 *   The hook keeps a client's socket corked until the end of the event-loop turn, so the
 *   packets of one turn leave in one write (in order; nothing is held longer than a turn).
 *
 * - PUBACK: offered to the observer's `holdAck` (see ack-after-handoff.ts), which may keep
 *   it back until the message is handed off; `writeHeld` writes it later.
 *
 * Observers are registered per aedes instance, so several brokers in one process (tests)
 * keep their own answers and counts; packets of other mqtt-packet users pass untouched.
 */
import { createRequire } from 'node:module'
import type { Aedes } from 'aedes'

export interface WriteObserver {
  /** Whether a session existed for this client id when it connected, if known. */
  sessionPresent: (clientId: string) => boolean | undefined
  /** Called for every PUBLISH written to a client (the aedes client, its packet identifier if QoS 1/2, the packet). */
  publishSent: (qos: number, client: object, messageId: number | undefined, packet: WrittenPacket) => void
  /** Offered every PUBACK; true keeps it back (the observer writes it with `writeHeld`). */
  holdAck?: (client: object, packet: WrittenPacket) => boolean
  /** Called for every PUBREL written to a client. */
  pubrelSent?: (client: object, messageId: number | undefined) => void
  /** Called for a CONNACK that accepts a client: whether it resumes a stored session. */
  accepted?: (client: object, resumed: boolean) => void
}

export interface WrittenPacket { cmd?: string, returnCode?: number, sessionPresent?: boolean, qos?: number, messageId?: number, brokerId?: unknown, brokerCounter?: unknown }
interface StreamWithClient { client?: { id: string | null, broker: Aedes, version?: number | null }, cork?: () => void, uncork?: () => void }
type WriteToStream = (packet: WrittenPacket, stream: StreamWithClient, opts?: unknown) => boolean

const observers = new WeakMap<Aedes, WriteObserver>()
let installed = false
/** mqtt-packet's writeToStream as hooked (set once the hook is installed). */
let hookedWrite: WriteToStream | undefined
/** Held packets being written now: the hook lets them through. */
const released = new WeakSet<object>()
/** Sockets corked by the hook in this event-loop turn, uncorked together by one setImmediate. */
const corked = new Set<StreamWithClient>()

function uncorkAll (): void {
  for (const stream of corked) stream.uncork?.()
  corked.clear()
}

/** Holds the stream's writes until the end of this event-loop turn. */
function coalesce (stream: StreamWithClient): void {
  if (corked.has(stream) || stream.cork === undefined) return
  if (corked.size === 0) setImmediate(uncorkAll)
  stream.cork()
  corked.add(stream)
}

export function registerWriteObserver (broker: Aedes, observer: WriteObserver): void {
  installHook()
  observers.set(broker, observer)
}

function installHook (): void {
  if (installed) return
  const mqttPacket = sharedMqttPacket()
  const writeToStream = mqttPacket.writeToStream
  mqttPacket.writeToStream = function observedWriteToStream (packet, stream, opts) {
    const client = stream.client
    const observer = client === undefined ? undefined : observers.get(client.broker)
    if (observer !== undefined && client !== undefined) {
      coalesce(stream)
      if (packet.cmd === 'puback' && observer.holdAck !== undefined && !released.has(packet) &&
        observer.holdAck(client, packet)) {
        return true
      } else if (packet.cmd === 'publish') {
        observer.publishSent(packet.qos ?? 0, client, packet.messageId, packet)
      } else if (packet.cmd === 'pubrel') {
        observer.pubrelSent?.(client, packet.messageId)
      } else if (packet.cmd === 'connack') {
        // The store's answer is taken in any case: it is kept only until this CONNACK.
        const present = packet.returnCode === 0 && client.id !== null ? observer.sessionPresent(client.id) : undefined
        if (packet.returnCode === 0) observer.accepted?.(client, present === true || packet.sessionPresent === true)
        if (client.version !== 4) packet.sessionPresent = false
        else if (present === true) packet.sessionPresent = true
      }
    }
    return writeToStream.call(this, packet, stream, opts)
  }
  hookedWrite = mqttPacket.writeToStream
  installed = true
}

/**
 * Writes a packet the observer held back, if its client is still connected (a PUBACK for
 * a connection that closed meanwhile is dropped: the client sends the PUBLISH again).
 */
export function writeHeld (client: object, packet: WrittenPacket): void {
  const c = client as { connected?: boolean, conn?: StreamWithClient }
  if (c.connected !== true || c.conn === undefined) return
  released.add(packet)
  hookedWrite?.(packet, c.conn)
}

/** The mqtt-packet instance aedes uses; it must be the one this module wraps. */
function sharedMqttPacket (): { writeToStream: WriteToStream } {
  const ours = createRequire(import.meta.url)
  const fromAedes = createRequire(ours.resolve('aedes')).resolve('mqtt-packet')
  if (fromAedes !== ours.resolve('mqtt-packet')) {
    throw new Error(`aedes resolves its own mqtt-packet (${fromAedes}); slotmq cannot observe its writes`)
  }
  return ours('mqtt-packet') as { writeToStream: WriteToStream }
}
