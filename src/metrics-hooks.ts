/**
 * Where the latency histograms of metrics.ts are measured, from outside the layers they
 * time: aedes' publish, preConnect and `connackSent`, and the emitter's `deliver` (a
 * peer's message handed to local delivery) and `on` (a subscription whose route every
 * peer must know before SUBACK).
 *
 * A message is recognised at its write by its payload Buffer: aedes copies packets per
 * subscriber but keeps the payload object, so a WeakMap keyed by it costs nothing once
 * the message is gone. A message read back from Redis (a replay) has a new Buffer and
 * is not timed.
 *
 * A message from a peer is timed from its publish on the peer: the PUBLISH accepted there,
 * by that node's wall clock, as its frame carried it (`publishTimes`, Redis modes). This
 * node's wall clock at the write minus that time assumes clocks synchronised by NTP; a
 * difference below zero (the peer's clock ahead) counts as 0. A message whose frame
 * carried no time (a peer of a release that sends none) is timed from its arrival.
 */
import type { Aedes, AedesOptions, Client } from 'aedes'
import type { BrokerMetrics } from './metrics.js'
import { wallClockMs, type PublishTimes } from './util/publish-times.js'

type Origin = 'local' | 'peer'
/** Monotonic start (`at`), or the publish on a peer by wall clock (`wallMs`). */
type Start = { origin: Origin, at: bigint, wallMs?: undefined } | { origin: 'peer', wallMs: number, at?: undefined }

interface EmitterLike {
  deliver: (message: { topic: string, payload: unknown }) => void
  on: (topic: string, listener: never, done?: () => void) => unknown
}

export interface LatencyHooks {
  /** A message from a peer arrived (before it is queued for persistent sessions). */
  arrived: (message: object) => void
  /** A PUBLISH was written to a subscriber. */
  sent: (packet: object) => void
}

const now = (): bigint => process.hrtime.bigint()
const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9

/**
 * @param deps.publishTimes where the publish times of messages are kept (Redis modes): a
 * PUBLISH aedes takes is stamped there, a peer's message is timed from it
 */
export function installLatencyHooks (deps: { aedes: Aedes, emitter: EmitterLike, metrics: BrokerMetrics, clustered: boolean, publishTimes?: PublishTimes | undefined }): LatencyHooks {
  const { aedes, emitter, metrics, publishTimes } = deps
  const started = new WeakMap<object, Start>()
  const mark = (payload: unknown, origin: Origin): void => {
    if (typeof payload !== 'object' || payload === null || started.has(payload)) return
    const wallMs = origin === 'peer' ? publishTimes?.of(payload) : undefined
    started.set(payload, wallMs === undefined ? { at: now(), origin } : { wallMs, origin: 'peer' })
  }

  const publish = aedes.publish.bind(aedes)
  aedes.publish = (packet, ...rest) => {
    if (!packet.topic.startsWith('$SYS/')) {
      mark(packet.payload, 'local')
      // The publish time peers get in the frames: taken as aedes takes the PUBLISH,
      // before the retained store and the offline queues.
      publishTimes?.stamp(packet.payload)
    }
    return publish(packet, ...rest)
  }
  const deliver = emitter.deliver.bind(emitter)
  emitter.deliver = (message) => {
    mark(message.payload, 'peer')
    deliver(message)
  }
  if (deps.clustered) {
    const on = emitter.on.bind(emitter)
    emitter.on = (topic, listener, done) => {
      if (topic.startsWith('$SYS/')) return on(topic, listener, done)
      const at = now()
      return on(topic, listener, () => {
        metrics.subscribePropagation.observe(seconds(at))
        done?.()
      })
    }
  }

  const connecting = new WeakMap<Client, bigint>()
  const hooks = aedes as unknown as Required<Pick<AedesOptions, 'preConnect'>>
  const preConnect = hooks.preConnect
  hooks.preConnect = (client, packet, callback) => {
    connecting.set(client, now())
    preConnect.call(aedes, client, packet, callback)
  }
  aedes.on('connackSent', (_packet, client: Client) => {
    const at = connecting.get(client)
    if (at !== undefined) metrics.connectDuration.observe(seconds(at))
  })

  return {
    arrived: (message) => mark((message as { payload?: unknown }).payload, 'peer'),
    sent: (packet) => {
      const payload = (packet as { payload?: unknown }).payload
      if (typeof payload !== 'object' || payload === null) return
      const s = started.get(payload)
      if (s === undefined) return
      if (s.wallMs === undefined) metrics.deliveryLatency.observe({ origin: s.origin }, seconds(s.at))
      else metrics.deliveryLatency.observe({ origin: s.origin }, Math.max(0, wallClockMs() - s.wallMs) / 1000)
    }
  }
}
