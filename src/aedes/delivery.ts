/**
 * Delivery fixes for aedes 1.2.0.
 *
 * aedes#955: aedes drops a message for a client when it has already delivered a message
 * of the same origin broker with a higher counter (`client.duplicates`). Counters are
 * assigned before the asynchronous publish pipeline (retained store, offline enqueue,
 * PUBACK write), so a QoS 1 publish followed by a QoS 0 publish in one read is emitted
 * out of counter order and the QoS 1 message is silently lost; across nodes it is worse.
 * slotmq turns that counter check off. What it was also used for, folding overlapping
 * subscriptions into one copy, becomes one copy per matching subscription at that
 * subscription's QoS, as Mosquitto 2 and EMQX do ([MQTT-3.3.5-1] allows it).
 *
 * [MQTT-3.8.4-6]: a message goes out at min(published QoS, granted QoS). aedes only
 * applies the cap when the client has a subscription equal to the message's topic, so a
 * QoS 1 wildcard subscription received QoS 2 messages, and retained messages were sent
 * at their stored QoS. slotmq records each subscription's granted QoS and caps delivery.
 */
import type { Aedes } from 'aedes'
import { Qlobber } from 'qlobber'
import { TOPIC_MATCHING } from '../topics.js'
import { internals, type ClientInternals, type Deliver, type SubscriptionRecord } from './internals.js'

const NO_DUPLICATES: Record<string, number> = new Proxy(Object.create(null) as Record<string, number>, {
  get: () => undefined,
  set: () => true,
  deleteProperty: () => true
})

type Subscribe = (topic: string, func: Deliver, done?: (err?: Error) => void) => void

export interface DeliveryFixes {
  /** Applies the per-client part of the fixes; call right after aedes creates the client. */
  onClient: (client: ClientInternals) => void
}

/**
 * @param broker the aedes instance
 * @param live wraps the live delivery of each subscription (client, filter), if given:
 *   see retained-once.ts
 */
export function installDeliveryFixes (broker: Aedes, live?: (client: object, filter: string, deliver: Deliver) => Deliver): DeliveryFixes {
  const grantedQos = new WeakMap<Deliver, 0 | 1 | 2>()
  /** The client of each subscription record's function. */
  const owners = new WeakMap<Deliver, ClientInternals>()
  /** The function registered with the emitter for each subscription record's function. */
  const registered = new WeakMap<Deliver, Deliver>()
  const b = broker as unknown as { subscribe: Subscribe, unsubscribe: Subscribe }
  const subscribe = b.subscribe.bind(broker)
  const unsubscribe = b.unsubscribe.bind(broker)

  // aedes stores the subscription record (client.subscriptions[filter]) just before it
  // registers the record's function here, so the granted QoS is known by now.
  b.subscribe = (topic, func, done) => {
    let deliver = func
    if (grantedQos.get(func) === 1) deliver = (packet, cb) => func(packet.qos > 1 ? { ...packet, qos: 1 } : packet, cb)
    const client = owners.get(func)
    if (client !== undefined && live !== undefined) deliver = live(client, topic, deliver)
    if (deliver !== func) registered.set(func, deliver)
    subscribe(topic, deliver, done)
  }
  b.unsubscribe = (topic, func, done) => unsubscribe(topic, registered.get(func) ?? func, done)

  return {
    onClient (client) {
      client.duplicates = NO_DUPLICATES
      client.subscriptions = new Proxy(client.subscriptions, {
        set (target, filter: string, record: SubscriptionRecord) {
          target[filter] = record
          grantedQos.set(record.func, record.qos)
          owners.set(record.func, client)
          client.slotmqFilters = undefined
          return true
        },
        deleteProperty (target, filter: string) {
          delete target[filter]
          client.slotmqFilters = undefined
          return true
        }
      })
      const deliverQoS = client.deliverQoS
      client.deliverQoS = (packet, cb) => {
        // aedes marks retained messages sent in answer to SUBSCRIBE with brokerId null
        if (packet.brokerId === null && packet.retain && packet.qos > 0) {
          const max = maxGrantedQos(client, packet.topic)
          if (max < packet.qos) packet = { ...packet, qos: max }
        }
        deliverQoS(packet, cb)
      }
    }
  }
}

function maxGrantedQos (client: ClientInternals, topic: string): 0 | 1 | 2 {
  let filters = client.slotmqFilters
  if (filters === undefined) {
    filters = new Qlobber<number>(TOPIC_MATCHING)
    for (const [filter, record] of Object.entries(client.subscriptions)) filters.add(filter, record.qos)
    client.slotmqFilters = filters
  }
  let max = 0
  for (const qos of filters.match(topic)) if (qos > max) max = qos
  return max as 0 | 1 | 2
}

export { internals }
