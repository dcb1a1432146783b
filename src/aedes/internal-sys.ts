/**
 * aedes announces on `$SYS/<broker id>/…` every client that connects or disconnects and
 * every SUBSCRIBE and UNSUBSCRIBE with its client id (`new/clients`, `disconnect/clients`,
 * `new/subscribes`, `new/unsubscribes`), plus its own `heartbeat` and `birth`. Any
 * subscriber of `$SYS/#` would read other clients' ids and subscriptions. These messages
 * stay on the node: they reach aedes' own listeners (the heartbeat feeds aedes' will
 * sweep in standalone mode), never a peer and never a client. slotmq's own `$SYS/broker/…`
 * and `$SYS/brokers/<node>/…` statistics are not affected.
 */
import type { Aedes, AedesOptions, PublishPacket } from 'aedes'

const AEDES_SYS_EVENTS = new Set(['heartbeat', 'birth', 'new/clients', 'disconnect/clients', 'new/subscribes', 'new/unsubscribes'])

/** True for aedes' internal announcements (`$SYS/<broker id>/<event>`), from any broker. */
export function isAedesSysTopic (topic: string): boolean {
  if (!topic.startsWith('$SYS/')) return false
  const rest = topic.slice('$SYS/'.length)
  const slash = rest.indexOf('/')
  if (slash <= 0) return false
  const broker = rest.slice(0, slash)
  if (broker === 'broker' || broker === 'brokers') return false
  return AEDES_SYS_EVENTS.has(rest.slice(slash + 1))
}

/**
 * aedes publishes its announcements through `aedes.publish`; this sends them to the
 * node's own listeners only (`deliverLocally`: the emitter's local delivery), without
 * storing, queueing or forwarding them.
 */
export function keepAedesSysLocal (aedes: Aedes, deliverLocally: (packet: PublishPacket) => void): void {
  const publish = aedes.publish.bind(aedes)
  aedes.publish = (packet, ...rest) => {
    if (!isAedesSysTopic(packet.topic)) return publish(packet, ...rest)
    deliverLocally(packet)
    const done = rest.find(a => typeof a === 'function') as ((err?: Error) => void) | undefined
    done?.()
  }
}

/** Never hands aedes' announcements to a client (also those of an older peer). */
export function hideAedesSys (authorizeForward: NonNullable<AedesOptions['authorizeForward']>): NonNullable<AedesOptions['authorizeForward']> {
  return (client, packet) => isAedesSysTopic(packet.topic) ? null as unknown as typeof packet : authorizeForward(client, packet)
}
