// Shared by the k6 scenarios: settings from __ENV, the benchmark payload (the same layout
// as `slotmq bench`: 8-byte sequence, 8-byte float64 epoch-ms timestamp, padding) and
// per-stream loss and duplicate tracking. Runs inside k6 (no Node APIs). Options passed to
// the MQTT extension are snake_case (client_id), the names grafana/xk6-mqtt reads.
import { Client } from 'k6/x/mqtt'

export const settings = {
  pubUrl: __ENV.MQTT_PUB_URL || 'mqtt://127.0.0.1:1883',
  subUrl: __ENV.MQTT_SUB_URL || __ENV.MQTT_PUB_URL || 'mqtt://127.0.0.1:1883',
  vus: Number(__ENV.VUS || 10),
  durationMs: parseDuration(__ENV.DURATION || '10s'),
  qos: Number(__ENV.QOS || 0),
  size: Math.max(16, Number(__ENV.SIZE || 256)),
  // publishes per second per publishing VU
  rate: Number(__ENV.RATE || 100),
  count: Number(__ENV.COUNT || 1000),
  // how long receivers wait for the last messages once publishing is over; they stop
  // earlier when every message has arrived
  drainMs: Number(__ENV.DRAIN_MS || 1500)
}
// Messages each publishStream sends (sequence numbers 1 .. messages): RATE per second for
// DURATION. Receivers in other VUs count loss against this known range.
settings.messages = Math.max(1, Math.round(settings.rate * settings.durationMs / 1000))

export function parseDuration (text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(text).trim())
  if (!m) throw new Error(`bad duration: ${text}`)
  const unit = m[2] || 's'
  return Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60000)
}

/** A k6 scenario that runs the default function once per VU for the whole test. */
export function oncePerVu (vus, durationMs) {
  return { executor: 'per-vu-iterations', vus, iterations: 1, maxDuration: `${Math.ceil(durationMs / 1000) + 30}s` }
}

/**
 * A payload as a Uint8Array. The extension's publish() accepts a string or a Uint8Array; it
 * rejects a bare ArrayBuffer ("String or ArrayBuffer expected"), whatever its index.d.ts says.
 */
export function makePayload (seq, size) {
  const bytes = new Uint8Array(size)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, Math.floor(seq / 4294967296))
  view.setUint32(4, seq % 4294967296)
  view.setFloat64(8, Date.now())
  return bytes
}

/** Sequence and send time of a received payload (the extension hands over an ArrayBuffer). */
export function readPayload (buf) {
  if (buf.byteLength < 16) return undefined
  const view = new DataView(buf)
  return { seq: view.getUint32(0) * 4294967296 + view.getUint32(4), sentAt: view.getFloat64(8) }
}

/** Counts lost and duplicated messages of one stream (one publisher seen by one subscriber). */
export class StreamTracker {
  constructor () {
    this.seen = new Set()
    this.duplicated = 0
  }

  /** Returns false for a duplicate. */
  add (seq) {
    if (this.seen.has(seq)) {
      this.duplicated++
      return false
    }
    this.seen.add(seq)
    return true
  }

  /** Whether every sequence number 1 .. sent arrived. */
  complete (sent) {
    return this.lost(sent) === 0
  }

  /** Sequence numbers 1 .. sent that never arrived (the whole range, whatever was seen). */
  lost (sent) {
    let n = 0
    for (let seq = 1; seq <= sent; seq++) if (!this.seen.has(seq)) n++
    return n
  }
}

/**
 * Tracks many streams (one per topic, one publisher each, known in advance) seen by one
 * receiver or one group of receivers: every message is new or a duplicate; lost are the
 * published sequence numbers (1 .. perStream) that never arrived, on every expected topic,
 * including a stream of which nothing arrived.
 */
export class Streams {
  constructor (topics, perStream) {
    this.perStream = perStream
    this.byTopic = {}
    for (const topic of topics) this.byTopic[topic] = new StreamTracker()
  }

  /** The payload's sequence and send time, with whether it is a duplicate on its topic. */
  receive (topic, payload) {
    const p = readPayload(payload)
    if (p === undefined) return undefined
    const s = this.byTopic[topic] || (this.byTopic[topic] = new StreamTracker())
    if (!s.add(p.seq)) return { duplicate: true, ...p }
    return { duplicate: false, ...p }
  }

  /** Whether every published message arrived, on every stream. */
  complete () {
    return this.lost() === 0
  }

  /** Published messages that never arrived, over all streams. */
  lost () {
    let n = 0
    for (const topic of Object.keys(this.byTopic)) n += this.byTopic[topic].lost(this.perStream)
    return n
  }
}

/**
 * This VU's publisher: after `graceMs` (for subscribers to get ready), publishes
 * settings.messages messages (sequence 1 .. settings.messages) on `topic` at
 * settings.rate per second (settings.durationMs in all), on MQTT_PUB_URL.
 */
export function publishStream (name, topic, graceMs) {
  const pub = new Client({ client_id: `k6-${name}-p${__VU}-${Date.now()}` })
  let seq = 0
  pub.on('connect', () => {
    setTimeout(() => {
      const timer = setInterval(() => {
        pub.publish(topic, makePayload(++seq, settings.size), { qos: settings.qos })
        if (seq >= settings.messages) {
          clearInterval(timer)
          setTimeout(() => pub.end(), 500)
        }
      }, 1000 / settings.rate)
    }, graceMs)
  })
  pub.connect(settings.pubUrl)
}

/**
 * Ends a receiver once: `finish` runs when `complete()` holds, checked by calling the
 * returned function after each new message, or after `deadlineMs`, whichever comes first.
 */
export function finishWhen (complete, deadlineMs, finish) {
  let done = false
  const end = () => {
    if (done) return
    done = true
    clearTimeout(timer)
    finish()
  }
  const timer = setTimeout(end, deadlineMs)
  return () => { if (!done && complete()) end() }
}

/** The topic each publishing VU (1 .. settings.vus) publishes on under `base`. */
export function streamTopics (base) {
  return Array.from({ length: settings.vus }, (_, i) => `${base}/${i + 1}`)
}

export function runId () {
  return Math.random().toString(36).slice(2, 8)
}
