/**
 * The message-flow runner behind p2p, fanout and fanin: subscribers first, then
 * publishers sending sequence-numbered, timestamped payloads at a fixed total rate or as
 * fast as acknowledgements allow, for a fixed time; then a bounded drain.
 */
import type { MqttClient } from 'mqtt'
import { ClientPool, runId } from '../clients.js'
import { makePayload, nowMs, readPayload } from '../payload.js'
import { distribution, percentiles, Recorder, spread } from '../recorder.js'
import { costBetween, RedisProbe, type RedisCost } from '../redis-cost.js'
import type { BenchOptions, BenchResult } from '../types.js'

export interface FlowSpec {
  scenario: string
  pubs: Array<{ url: string, topic: string }>
  subs: Array<{ url: string, filter: string }>
  /** How many subscribers receive each publish of publisher i. */
  receivers: (pubIndex: number) => number
  /**
   * The subscribers are one shared subscription group: each publish reaches one of them.
   * Duplicates are then counted across the group, and the result tells how many
   * messages each member got (balance).
   */
  group?: boolean
}

/**
 * In `max` mode a publisher keeps at most this many publishes unacknowledged (QoS > 0)
 * and at most this many per receiver not yet received: the rate the broker sustains with
 * bounded queues, not the rate a socket buffer accepts.
 */
const WINDOW = 64
/** A publisher held back by messages that never arrive (lost) resumes after this long. */
const STALL_MS = 200
/** Pause between SUBACKs and the first publish: brokers that propagate subscriptions asynchronously get it too. */
const SETTLE_MS = 300
/**
 * Pause between the last delivery and the second Redis reading: the subscribers'
 * acknowledgements of the last messages reach the brokers, and their Redis, after it.
 */
const ACK_SETTLE_MS = 300

export async function runFlow (spec: FlowSpec, opts: BenchOptions): Promise<BenchResult> {
  const pool = new ClientPool()
  const id = runId()
  const probe = opts.redis === undefined ? undefined : await RedisProbe.open(opts.redis, opts.timeoutMs)
  try {
    const subs: MqttClient[] = []
    for (const [i, s] of spec.subs.entries()) {
      subs.push(await pool.connect(s.url, { clientId: `bench-${id}-s${i}`, clean: opts.clean, timeoutMs: opts.timeoutMs }))
    }
    await Promise.all(subs.map(async (c, i) => await c.subscribeAsync(spec.subs[i]?.filter as string, { qos: opts.qos })))
    const pubs: MqttClient[] = []
    for (const [i, p] of spec.pubs.entries()) {
      pubs.push(await pool.connect(p.url, { clientId: `bench-${id}-p${i}`, clean: true, timeoutMs: opts.timeoutMs }))
    }
    await new Promise(resolve => setTimeout(resolve, SETTLE_MS))

    const commandsBefore = await probe?.commandCounts()
    const started = nowMs()
    const rec = new Recorder(started, subs.length)
    const perSub = subs.map(() => 0)
    // In a group, order is checked per member and publisher, duplicates across the group.
    const groupSeen = new Map<string, Set<number>>()
    subs.forEach((client, si) => {
      client.on('message', (topic, payload) => {
        const at = nowMs()
        const p = readPayload(payload)
        if (p === undefined) return
        if (spec.group === true) {
          let seen = groupSeen.get(topic)
          if (seen === undefined) groupSeen.set(topic, seen = new Set())
          if (seen.has(p.seq)) { rec.duplicated++; return }
          seen.add(p.seq)
        }
        perSub[si] = (perSub[si] ?? 0) + 1
        rec.onReceived(`${si}|${topic}`, p.seq, at - p.sentAtMs, at, si)
      })
    })

    const endAt = started + opts.durationS * 1000
    const seqs = spec.pubs.map(() => 0)
    const publish = (i: number, done?: () => void): void => {
      const seq = seqs[i] = (seqs[i] ?? 0) + 1
      const sentAt = nowMs()
      rec.onSent(sentAt, spec.receivers(i))
      pubs[i]?.publish(spec.pubs[i]?.topic as string, makePayload(seq, opts.size), { qos: opts.qos }, (err) => {
        if (err !== undefined && err !== null) rec.errors++
        else if (opts.qos > 0) {
          const at = nowMs()
          rec.onAck(at - sentAt, at)
        }
        done?.()
      })
    }
    const progress = startProgress(opts, rec, started)
    if (opts.rate === 'max') {
      const pubOfTopic = new Map(spec.pubs.map((p, i) => [p.topic, i]))
      // Highest sequence each subscriber has seen from each publisher. Streams are in
      // order, so everything below it has arrived or is lost: a lost message does not
      // hold a window slot for ever.
      const highest = spec.pubs.map(() => new Map<number, number>())
      const forgivenUpTo = spec.pubs.map(() => 0)
      const unacked = spec.pubs.map(() => 0)
      const pumps: Array<() => void> = []
      subs.forEach((client, si) => client.on('message', (topic, payload) => {
        const i = pubOfTopic.get(topic)
        const p = readPayload(payload)
        if (i === undefined || p === undefined) return
        const h = highest[i] as Map<number, number>
        const who = spec.group === true ? 0 : si
        if (p.seq > (h.get(who) ?? 0)) h.set(who, p.seq)
        pumps[i]?.()
      }))
      await Promise.all(pubs.map(async (_, i) => await new Promise<void>(resolve => {
        const receivers = spec.receivers(i)
        const h = highest[i] as Map<number, number>
        const delivered = (): number => {
          const low = h.size < receivers ? 0 : Math.min(...h.values())
          return Math.max(low, forgivenUpTo[i] ?? 0)
        }
        const outstanding = (): number => (seqs[i] ?? 0) - delivered()
        let lastDelivered = 0
        let lastChange = nowMs()
        const pump = (): void => {
          if (nowMs() >= endAt) {
            if ((unacked[i] ?? 0) === 0) { clearInterval(stall); pumps[i] = () => {}; resolve() }
            return
          }
          while ((unacked[i] ?? 0) < WINDOW && outstanding() < WINDOW && nowMs() < endAt) {
            unacked[i] = (unacked[i] ?? 0) + 1
            publish(i, () => { unacked[i] = (unacked[i] ?? 0) - 1; pump() })
          }
        }
        const stall = setInterval(() => {
          const d = delivered()
          if (d !== lastDelivered) { lastDelivered = d; lastChange = nowMs() } else if (nowMs() - lastChange > STALL_MS) {
            forgivenUpTo[i] = seqs[i] ?? 0
            lastChange = nowMs()
          }
          pump()
        }, 50)
        pumps[i] = pump
        pump()
      })))
    } else {
      const perPub = opts.rate / pubs.length
      await new Promise<void>(resolve => {
        const timer = setInterval(() => {
          const now = nowMs()
          const elapsedS = (Math.min(now, endAt) - started) / 1000
          pubs.forEach((_, i) => {
            const due = Math.floor(elapsedS * perPub) - (seqs[i] ?? 0)
            for (let k = 0; k < due; k++) publish(i)
          })
          if (now >= endAt) { clearInterval(timer); resolve() }
        }, 1)
      })
    }
    const sendEnded = nowMs()
    rec.endSending(Math.min(sendEnded, endAt))
    await drain(rec, opts.timeoutMs)
    progress()
    let redis: RedisCost | undefined
    if (probe !== undefined && commandsBefore !== undefined) {
      await new Promise(resolve => setTimeout(resolve, ACK_SETTLE_MS))
      redis = costBetween(commandsBefore, await probe.commandCounts(), probe.primaries, rec.received)
    }
    const sendS = (sendEnded - started) / 1000
    return {
      scenario: spec.scenario,
      settings: settingsOf(spec, opts),
      durationS: Math.round(sendS * 100) / 100,
      sent: rec.sent,
      received: rec.received,
      expected: rec.expected,
      lost: rec.lost,
      duplicated: rec.duplicated,
      outOfOrder: rec.outOfOrder,
      errors: rec.errors,
      sentPerS: Math.round(rec.sent / sendS),
      receivedPerS: Math.round(rec.received / sendS),
      latency: rec.received > 0 ? percentiles(rec.latency) : undefined,
      ack: opts.qos > 0 ? percentiles(rec.ackLatency) : undefined,
      timings: {},
      facts: {
        publishers: pubs.length,
        subscribers: subs.length,
        ...(spec.group === true ? balance(perSub) : {}),
        ...(fanOut(spec) ? perSubscriberRates(perSub, sendS) : {})
      },
      timeline: rec.timeline(),
      distribution: distribution(rec.latency),
      ...(opts.qos > 0 ? { ackDistribution: distribution(rec.ackLatency) } : {}),
      ...(redis === undefined ? {} : { redis })
    }
  } finally {
    probe?.close()
    await pool.closeAll()
  }
}

/** Each publish reaches more than one subscriber. */
function fanOut (spec: FlowSpec): boolean {
  return spec.group !== true && spec.pubs.some((_, i) => spec.receivers(i) > 1)
}

/** Fan-out: what each subscriber received per second of sending, fewest, median and most. */
function perSubscriberRates (perSub: number[], sendS: number): Record<string, number> {
  const { min, median, max } = spread(perSub.map(c => sendS > 0 ? c / sendS : 0))
  return { sub_min_msg_per_s: Math.round(min), sub_median_msg_per_s: Math.round(median), sub_max_msg_per_s: Math.round(max) }
}

/** How evenly a group's members were served: fewest and most messages, and the counts. */
function balance (perSub: number[]): Record<string, number | string> {
  const min = Math.min(...perSub)
  const max = Math.max(...perSub)
  return {
    member_min: min,
    member_max: max,
    member_min_over_max: max === 0 ? '-' : `${(100 * min / max).toFixed(1)} %`,
    per_member: perSub.join(' / ')
  }
}

/** Waits until every expected message arrived, nothing arrived for a second, or the timeout. */
async function drain (rec: Recorder, timeoutMs: number): Promise<void> {
  const deadline = nowMs() + timeoutMs
  let last = rec.received
  let quietSince = nowMs()
  while (rec.received < rec.expected && nowMs() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 50))
    if (rec.received !== last) { last = rec.received; quietSince = nowMs() } else if (nowMs() - quietSince > 1000) return
  }
}

function startProgress (opts: BenchOptions, rec: Recorder, started: number): () => void {
  const report = opts.progress
  if (report === undefined) return () => {}
  let last = { at: started, sent: 0, received: 0 }
  const timer = setInterval(() => {
    const at = nowMs()
    const dt = (at - last.at) / 1000
    report({ elapsedS: (at - started) / 1000, sent: rec.sent, received: rec.received, sentPerS: (rec.sent - last.sent) / dt, receivedPerS: (rec.received - last.received) / dt })
    last = { at, sent: rec.sent, received: rec.received }
  }, 1000)
  return () => clearInterval(timer)
}

function settingsOf (spec: FlowSpec, opts: BenchOptions): Record<string, string | number | boolean> {
  return {
    publishers: spec.pubs.length,
    subscribers: spec.subs.length,
    qos: opts.qos,
    size: opts.size,
    rate: opts.rate,
    duration: opts.durationS,
    clean: opts.clean
  }
}
