/**
 * The aedes side of shared subscriptions (`$share/<group>/<filter>`, see
 * src/routing/shared.ts):
 *
 * - SUBSCRIBE: a `$share` filter without a valid group or filter gets SUBACK 0x80, and
 *   the access control rules see the inner filter (a user may read `a/#` may share it).
 * - Retained messages are not sent to a new shared subscription [MQTT-4.8.2] (MQTT 5).
 * - Each member's QoS 1/2 messages are tracked per connection from the hand-over to the
 *   member until its PUBACK (QoS 1) or PUBREC (QoS 2). When the connection closes, the
 *   messages not acknowledged go to another member of the group, on any node, instead of
 *   being stranded with the member that left. These messages are not stored in a
 *   persistent member's session, so it is not sent them again when it resumes.
 */
import { Readable } from 'node:stream'
import type { Aedes, AedesOptions } from 'aedes'
import type { Logger } from '../logger.js'
import type { Message } from '../routing/emitter.js'
import { GROUP_WILDCARD, isShareTopic, parseShare } from '../routing/shared.js'
import type { ClientInternals, Deliver, SubscriptionRecord } from './internals.js'

type AuthorizeSubscribe = NonNullable<AedesOptions['authorizeSubscribe']>
type Subscribe = (topic: string, func: Deliver, done?: (err?: Error) => void) => void

export interface SharedMembersDeps {
  aedes: Aedes
  /** The persistence handed to aedes (shared deliveries are kept out of sessions). */
  persistence: { outgoingUpdate: (client: object, packet: object) => Promise<unknown> }
  /** Gives a message to another member of the group (any node). */
  redispatch: (group: string, filter: string, message: Message) => void
  log: Logger
}

export interface SharedMembers {
  /** Call right after aedes creates a client (after the delivery fixes). */
  onClient: (client: ClientInternals) => void
  /**
   * Whether `packet`, on its way to `client`, is a shared group delivery: it is in no
   * session queue, so session replay rules (wait for the replay, sent already) do not
   * apply to it.
   */
  isSharedDelivery: (client: object, packet: object) => boolean
  /** Call for every PUBLISH written to a client (the write hook). */
  publishSent: (client: object, packet: { qos?: number, messageId?: number, brokerId?: unknown, brokerCounter?: unknown }) => void
  /** Messages given to another member because theirs left without acknowledging them. */
  readonly counts: { redispatched: number }
}

interface Member { client: ClientInternals, group: string, filter: string, qos: number }
interface Pending { member: Member, message: Message, messageId?: number }
interface Tracked { byRef: Map<string, Pending[]>, byId: Map<number, Pending> }

export function installSharedMembers (deps: SharedMembersDeps): SharedMembers {
  const { aedes, log } = deps
  const counts = { redispatched: 0 }
  const members = new WeakMap<Deliver, Member>()
  const wrapped = new WeakMap<Deliver, Deliver>()
  const tracked = new WeakMap<object, Tracked>()
  const b = aedes as unknown as { subscribe: Subscribe, unsubscribe: Subscribe }
  const subscribe = b.subscribe.bind(aedes)
  const unsubscribe = b.unsubscribe.bind(aedes)

  const redispatch = (p: Pending): void => {
    counts.redispatched++
    deps.redispatch(p.member.group, p.member.filter, p.message)
  }

  // aedes records the subscription (client.subscriptions[topic]) just before it registers
  // the record's function here: onClient's proxy has named the member by now.
  b.subscribe = (topic, func, done) => {
    const member = members.get(func)
    if (member === undefined || !isShareTopic(topic)) return subscribe(topic, func, done)
    const deliver: Deliver = (packet, cb) => {
      const client = member.client
      if (client.closed) {
        // Picked while its connection was closing: the group gets it again.
        redispatch({ member, message: packet as unknown as Message })
        return cb()
      }
      const qos = Math.min(packet.qos, member.qos)
      if (qos > 0) track(client, { member, message: packet as unknown as Message })
      func(qos < packet.qos ? { ...packet, qos: qos as 0 | 1 | 2 } : packet, cb)
    }
    wrapped.set(func, deliver)
    subscribe(topic, deliver, done)
  }

  b.unsubscribe = (topic, func, done) => {
    const deliver = wrapped.get(func)
    const member = members.get(func)
    if (deliver === undefined || member === undefined) return unsubscribe(topic, func, done)
    unsubscribe(topic, deliver, (err) => {
      // A closing connection unsubscribes everything: this member is out of its group
      // now, and what it did not acknowledge goes to another member.
      if (member.client.closed) release(member)
      done?.(err)
    })
  }

  const track = (client: object, p: Pending): void => {
    let t = tracked.get(client)
    if (t === undefined) {
      t = { byRef: new Map(), byId: new Map() }
      tracked.set(client, t)
    }
    const ref = refOf(p.message)
    const list = t.byRef.get(ref)
    if (list === undefined) t.byRef.set(ref, [p])
    else list.push(p)
  }

  const acked = (client: object, messageId: number): void => {
    const t = tracked.get(client)
    const p = t?.byId.get(messageId)
    if (t === undefined || p === undefined) return
    t.byId.delete(messageId)
    const ref = refOf(p.message)
    const list = t.byRef.get(ref)
    const i = list?.indexOf(p) ?? -1
    if (list !== undefined && i >= 0) list.splice(i, 1)
    if (list?.length === 0) t.byRef.delete(ref)
  }

  // A member that unsubscribed and then left without acknowledging: once aedes is done
  // with the connection (every subscription removed), what is left goes to the group.
  aedes.on('clientDisconnect', (client) => {
    const t = tracked.get(client)
    if (t === undefined) return
    const left = new Set<Member>()
    for (const list of t.byRef.values()) for (const p of list) left.add(p.member)
    for (const member of left) release(member)
  })

  const release = (member: Member): void => {
    const t = tracked.get(member.client)
    if (t === undefined) return
    for (const [ref, list] of t.byRef) {
      const mine = list.filter(p => p.member === member)
      if (mine.length === 0) continue
      const rest = list.filter(p => p.member !== member)
      if (rest.length === 0) t.byRef.delete(ref)
      else t.byRef.set(ref, rest)
      for (const p of mine) {
        if (p.messageId !== undefined) t.byId.delete(p.messageId)
        redispatch(p)
      }
    }
  }

  // A shared delivery is kept per connection, never in a persistent member's session:
  // a member is one while connected, and what it leaves unacknowledged goes to another
  // member rather than waiting for it to resume.
  const isSharedDelivery = (client: object, packet: object): boolean =>
    tracked.get(client)?.byRef.get(refOf(packet))?.some(p => p.messageId === undefined) === true
  const persistence = deps.persistence
  const outgoingUpdate = persistence.outgoingUpdate.bind(persistence)
  persistence.outgoingUpdate = async (client, packet) => {
    if (isSharedDelivery(client, packet)) return
    return await outgoingUpdate(client, packet)
  }

  return {
    counts,
    isSharedDelivery,
    onClient (client) {
      client.subscriptions = new Proxy(client.subscriptions, {
        set (target, topic: string, record: SubscriptionRecord) {
          target[topic] = record
          if (isShareTopic(topic)) {
            const share = parseShare(topic)
            if (!('problem' in share)) members.set(record.func, { client, group: share.group, filter: share.filter, qos: record.qos })
          }
          return true
        }
      })
      const parser = client._parser as unknown as NodeJS.EventEmitter
      parser.on('packet', (packet: { cmd?: string, messageId?: number }) => {
        if ((packet.cmd === 'puback' || packet.cmd === 'pubrec') && packet.messageId !== undefined) acked(client, packet.messageId)
      })
      parser.prependListener('packet', (packet: { cmd?: string, subscriptions?: Array<{ topic: string }> }) => {
        if (packet.cmd === 'subscribe') markInvalidShares(packet.subscriptions ?? [], client.id, log)
      })
    },
    publishSent (client, packet) {
      if ((packet.qos ?? 0) === 0 || packet.messageId === undefined) return
      const t = tracked.get(client)
      const p = t?.byRef.get(refOf(packet))?.find(p => p.messageId === undefined)
      if (t === undefined || p === undefined) return
      p.messageId = packet.messageId
      t.byId.set(packet.messageId, p)
    }
  }
}

/**
 * A group name holding `+` or `#` makes the whole filter malformed for aedes, which would
 * close the connection; such a `$share` filter is renamed `$share//<i>` (an empty group:
 * it passes the topic checks and is then refused by `validateShare`; `i`, its place in
 * the packet, keeps it apart from the others) so that it gets SUBACK 0x80 like every
 * other invalid shared subscription, and the connection carries on.
 */
function markInvalidShares (subs: Array<{ topic: string }>, clientId: string, log: Logger): void {
  for (const [i, sub] of subs.entries()) {
    if (typeof sub.topic !== 'string' || !sub.topic.startsWith('$share/')) continue
    const share = parseShare(sub.topic)
    if ('problem' in share && share.problem === GROUP_WILDCARD) {
      log.debug({ clientId, topic: sub.topic }, 'shared subscription with a wildcard in its group name')
      sub.topic = `$share//${i}`
    }
  }
}

/** Outermost SUBSCRIBE check: an invalid `$share` filter gets SUBACK 0x80. */
export function validateShare (next: AuthorizeSubscribe, log: Logger): AuthorizeSubscribe {
  return (client, sub, callback) => {
    if (!isShareTopic(sub.topic)) return next(client, sub, callback)
    const share = parseShare(sub.topic)
    if (!('problem' in share)) return next(client, sub, callback)
    log.debug({ clientId: client.id, topic: sub.topic, problem: share.problem }, 'shared subscription refused')
    callback(null, null as unknown as typeof sub)
  }
}

/** Runs `next` (access control) on the inner filter of a `$share` subscription. */
export function shareInnerFilter (next: AuthorizeSubscribe): AuthorizeSubscribe {
  return (client, sub, callback) => {
    const share = isShareTopic(sub.topic) ? parseShare(sub.topic) : undefined
    if (share === undefined || 'problem' in share) return next(client, sub, callback)
    next(client, { ...sub, topic: share.filter }, (err, granted) => {
      callback(err, granted === null || granted === undefined ? granted : { ...granted, topic: sub.topic })
    })
  }
}

/** The identity of a message: its origin broker and that broker's counter. */
function refOf (m: object): string {
  const { brokerId, brokerCounter } = m as { brokerId?: unknown, brokerCounter?: unknown }
  return `${String(brokerId)}:${String(brokerCounter)}`
}

/** aedes sends a new subscription the retained messages matching it; a `$share` one gets none. */
export function withoutSharedRetained (persistence: { createRetainedStreamCombi: (patterns: string[]) => Readable }): void {
  const combi = persistence.createRetainedStreamCombi.bind(persistence)
  persistence.createRetainedStreamCombi = (patterns) => {
    const kept = patterns.filter(p => !isShareTopic(p))
    return kept.length === 0 ? Readable.from([]) : combi(kept)
  }
}
