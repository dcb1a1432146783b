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
 * The start of a message from a peer is its publish on the peer: the PUBLISH accepted
 * there, by that node's wall clock, which its frame carried (`publishedAt` on the message
 * routing hands over). This node's wall clock at the write minus that time assumes clocks
 * synchronised by NTP; a difference below zero (the peer's clock ahead) counts as 0. A
 * message whose frame carried no time (from a node of a release that sends none) is timed
 * from its arrival. Every start is read on the wall clock (`wallClockMs`: monotonic,
 * anchored to the system clock), so that a local one is also the publish time this node
 * puts in its frames to peers (`publishedAt`): one reading and one WeakMap entry per
 * message serve both.
 */
import type { Aedes, AedesOptions, Client } from 'aedes'
import type { BrokerMetrics } from './metrics.js'
import { wallClockMs } from './util/wall-clock.js'

type Origin = 'local' | 'peer'
/** Where a message's latency starts (wall-clock ms); `published`: that is its publish time. */
interface Start { origin: Origin, fromMs: number, published: boolean }

interface EmitterLike {
  deliver: (message: { topic: string, payload: unknown, publishedAt?: number }) => void
  on: (topic: string, listener: never, done?: () => void) => unknown
}

export interface LatencyHooks {
  /** A message from a peer arrived (before it is queued for persistent sessions). */
  arrived: (message: object) => void
  /** A PUBLISH was written to a subscriber. */
  sent: (packet: object) => void
  /**
   * When the message with `payload` was published (wall-clock ms): accepted on this node,
   * or on the peer it came from when its frame said so. What frames to peers carry.
   */
  publishedAt: (payload: unknown) => number | undefined
}

const now = (): bigint => process.hrtime.bigint()
const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9

export function installLatencyHooks (deps: { aedes: Aedes, emitter: EmitterLike, metrics: BrokerMetrics, clustered: boolean }): LatencyHooks {
  const { aedes, emitter, metrics } = deps
  const started = new WeakMap<object, Start>()
  /** `publishedAt`: the publish time a peer's frame carried. */
  const mark = (payload: unknown, origin: Origin, publishedAt?: unknown): void => {
    if (typeof payload !== 'object' || payload === null || started.has(payload)) return
    const published = origin === 'local' || typeof publishedAt === 'number'
    started.set(payload, { origin, fromMs: typeof publishedAt === 'number' ? publishedAt : wallClockMs(), published })
  }

  const publish = aedes.publish.bind(aedes)
  aedes.publish = (packet, ...rest) => {
    // As aedes takes the PUBLISH, before the retained store, the offline queues and the
    // routing: the latency's start and the publish time peers get in the frames.
    if (!packet.topic.startsWith('$SYS/')) mark(packet.payload, 'local')
    return publish(packet, ...rest)
  }
  const deliver = emitter.deliver.bind(emitter)
  emitter.deliver = (message) => {
    mark(message.payload, 'peer', message.publishedAt)
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
    arrived: (message) => mark((message as { payload?: unknown }).payload, 'peer', (message as { publishedAt?: unknown }).publishedAt),
    sent: (packet) => {
      const payload = (packet as { payload?: unknown }).payload
      if (typeof payload !== 'object' || payload === null) return
      const s = started.get(payload)
      if (s !== undefined) metrics.deliveryLatency.observe({ origin: s.origin }, Math.max(0, wallClockMs() - s.fromMs) / 1000)
    },
    publishedAt: (payload) => {
      if (typeof payload !== 'object' || payload === null) return undefined
      const s = started.get(payload)
      return s?.published === true ? s.fromMs : undefined
    }
  }
}
