/**
 * The message stream most scenarios run: a persistent QoS 1 subscriber on one node, a
 * QoS 1 publisher of numbered messages on another, both reconnecting to a live node
 * when theirs drops; and the end of a run: stop publishing, wait (bounded) for delivery
 * to settle, and book the counts.
 */
import { Ledger, sample } from './ledger.js'
import { Publisher } from './publisher.js'
import { Subscriber } from './subscriber.js'
import type { ChaosContext, RunResult } from './types.js'
import { settle, waitFor } from './wait.js'

export interface Stream {
  /** Topic prefix of the run: `chaos/<tag>`. */
  base: string
  ledger: Ledger
  publisher: Publisher
  subscriber: Subscriber
}

export interface StreamSetup {
  pubSlot: number
  subSlot: number
  /** Topic and retain flag of message `seq` (default: `<base>/s`, not retained). */
  message?: (seq: number) => { topic: string, retain: boolean }
  /** Filters besides `<base>/s`, and where their messages go. */
  extra?: { filters: string[], onMessage: (topic: string, payload: Buffer) => void }
  /** The subscriber's client id (default `<tag>-sub`). */
  subscriberId?: string
}

const FLOW_TIMEOUT_MS = 10_000

export async function openStream (ctx: ChaosContext, setup: StreamSetup): Promise<Stream> {
  const base = `chaos/${ctx.tag}`
  const ledger = new Ledger()
  const extra = setup.extra
  const subscriber = new Subscriber({
    pool: ctx.pool,
    clientId: setup.subscriberId ?? `${ctx.tag}-sub`,
    filters: [`${base}/s`, `${base}/r/+`, ...(extra?.filters ?? [])],
    onMessage: (topic, payload) => {
      if (extra !== undefined && !topic.startsWith(`${base}/s`) && !topic.startsWith(`${base}/r/`)) extra.onMessage(topic, payload)
      else ledger.deliver(topic, payload)
    },
    reconnectUrls: failed => ctx.fleet.reconnectUrls(failed)
  })
  await subscriber.connect(ctx.fleet.url(setup.subSlot))
  const publisher = new Publisher({
    pool: ctx.pool,
    ledger,
    clientId: `${ctx.tag}-pub`,
    message: setup.message ?? (() => ({ topic: `${base}/s`, retain: false })),
    reconnectUrls: failed => ctx.fleet.reconnectUrls(failed)
  })
  await publisher.connect(ctx.fleet.url(setup.pubSlot))
  return { base, ledger, publisher, subscriber }
}

/** Starts publishing at the run's rate and waits (bounded) until messages arrive. */
export async function flowing (ctx: ChaosContext, stream: Stream, rate = ctx.options.rate): Promise<void> {
  stream.publisher.startRate(rate)
  const want = Math.max(5, Math.floor(rate / 10))
  const took = await waitFor(() => stream.ledger.delivered >= want, FLOW_TIMEOUT_MS)
  if (took === undefined) throw new Error(`the stream did not flow: ${stream.ledger.delivered} of ${want} messages delivered within ${FLOW_TIMEOUT_MS} ms`)
}

/**
 * Stops publishing, waits for outstanding PUBACKs and then (bounded by the settle time)
 * until every acknowledged message arrived and nothing more came for half a second;
 * books the counts into `result`.
 */
export async function finish (ctx: ChaosContext, stream: Stream, result: RunResult): Promise<void> {
  stream.publisher.stopRate()
  await stream.publisher.drained(5000)
  stream.publisher.stop()
  await settle(() => stream.ledger.missing().length === 0 && stream.subscriber.connected, () => stream.ledger.lastDeliveryAt, ctx.options.settleMs)
  stream.subscriber.stop()
  stream.ledger.fill(result)
  result.figures.unacknowledged = result.published - result.acknowledged
  if (result.lost > 0) {
    result.figures.lostSeqs = sample(stream.ledger.missing())
    Object.assign(result.figures, await ctx.fleet.sessionFigures(stream.subscriber.clientId))
  }
  if (stream.subscriber.reconnects.length > 0) {
    result.checks.push({
      name: 'session present on every reconnect',
      ok: stream.subscriber.sessionsLost === 0,
      detail: `${stream.subscriber.reconnects.length} reconnects, ${stream.subscriber.sessionsLost} found no session`
    })
  }
}

/** Waits (bounded) until the subscriber is connected again after its node was killed. */
export async function resubscribed (stream: Stream, timeoutMs = 30_000): Promise<void> {
  const took = await waitFor(() => stream.subscriber.reconnects.length > 0 && stream.subscriber.connected, timeoutMs)
  if (took === undefined) throw new Error(`the subscriber did not reconnect within ${timeoutMs} ms`)
}

/** Waits (bounded) until the publisher is connected again after its node was killed. */
export async function republishing (stream: Stream, timeoutMs = 30_000): Promise<void> {
  const took = await waitFor(() => stream.publisher.reconnects > 0 && stream.publisher.connected, timeoutMs)
  if (took === undefined) throw new Error(`the publisher did not reconnect within ${timeoutMs} ms`)
}
