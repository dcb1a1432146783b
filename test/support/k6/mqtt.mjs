// Stand-in for grafana/xk6-mqtt's `k6/x/mqtt`, on MQTT.js, written from the extension's
// source (index.d.ts, mqtt/client_*.go) and the Paho client options it builds. What it
// mirrors, because a script that works here must work there:
//
// - The module exports `Client` only (index.d.ts also declares a QoS enum; the module does
//   not export it). Options are snake_case; see options.mjs for what is read and ignored.
// - MQTT 3.1.1, clean session 1 always. client_id is sent as given (empty when unset: the
//   broker assigns one). Paho defaults: keepalive 30 s, connect timeout 30 s.
// - One handler per event (connect, reconnect, end, error, message); registering a second
//   one replaces the first, an unknown event is ignored. Handlers run on the VU's loop.
// - A Client keeps its VU alive from construction until end(). end() fires `end`; nothing
//   else does (a connection the broker closes fires no `end`).
// - A connection the broker closes is reconnected by the client itself (Paho's automatic
//   reconnect, always on): `reconnect` before each attempt, the first one at once, then 1 s
//   doubling while the connection keeps being lost; `connect` again when it is up, without
//   the subscriptions (clean session). QoS 0 publishes meanwhile are dropped.
// - connect() again on a connected Client, and reconnect(), stop its event loop in the
//   extension (disconnect() closes the loop's stop channel for good): no event is
//   delivered afterwards. Both are reported as problems.
// - publish() takes a string or a Uint8Array: sobek exports an ArrayBuffer as
//   sobek.ArrayBuffer, not []byte, so stringOrArrayBuffer rejects it (index.d.ts says
//   otherwise). subscribe()/unsubscribe() take one topic string: a JS array exports as
//   []interface{} and matches neither []string nor the object form.
// - publish, subscribe and unsubscribe throw when not connected. An operation that fails
//   fires `error` ({ name: 'MQTTError', method, message }) when a handler is registered;
//   otherwise the call throws (here: an uncaught exception in the VU) or its promise rejects.
//
// What it cannot mirror: the real connect(), publish() and subscribe() block until the
// broker answered; here they return at once, so scripts act in the `connect` handler and
// use the *Async forms where order across clients matters (as the extension's examples do).
// Metrics: mqtt_calls, mqtt_messages_sent, mqtt_messages_received, mqtt_errors, data_sent,
// data_received (payload bytes), as the extension records them.
import mqtt from 'mqtt'
import { Counter } from './metrics.mjs'
import { qosOf, readClientOptions, readConnectOptions, readOptions, report } from './options.mjs'

/** Clients whose event loop runs: each keeps its VU alive (run.mjs). */
export const liveClients = new Set()

const EVENTS = ['connect', 'reconnect', 'end', 'error', 'message']
const SCHEMES = { 'mqtt:': 'mqtt:', 'tcp:': 'mqtt:', 'mqtts:': 'mqtts:', 'ssl:': 'mqtts:', 'tls:': 'mqtts:', 'ws:': 'ws:', 'wss:': 'wss:' }
const metric = {
  calls: new Counter('mqtt_calls'),
  sent: new Counter('mqtt_messages_sent'),
  received: new Counter('mqtt_messages_received'),
  errors: new Counter('mqtt_errors'),
  dataSent: new Counter('data_sent'),
  dataReceived: new Counter('data_received')
}

class MQTTError extends Error {
  constructor (method, message) {
    super(`MQTT error during ${method}: ${message}`)
    this.name = 'MQTTError'
    this.method = method
    this.detail = message
  }

  /** The value the extension hands to an `error` handler. */
  toEvent () { return { name: 'MQTTError', method: this.method, message: this.detail } }
}

export class Client {
  #options
  #connect = readConnectOptions(undefined)
  #url = ''
  #handlers = new Map()
  #queue = []
  #looping = true
  #conn // the MQTT.js client of the current connection
  #reconnecting = false
  #backoff = new Backoff()
  #held = [] // QoS > 0 publishes waiting for a reconnect

  constructor (options) {
    this.#options = readClientOptions(options)
    liveClients.add(this)
  }

  get connected () { return this.#conn !== undefined && (this.#conn.connected || this.#reconnecting) }

  on (event, listener) {
    if (!EVENTS.includes(event)) return report(`on(): unknown event ${JSON.stringify(event)} (ignored)`)
    if (this.#handlers.has(event)) report(`on(): a second ${event} handler replaces the first`)
    this.#handlers.set(event, listener)
  }

  connect (urlOrOptions, options) {
    this.#prepare(urlOrOptions, options)
    this.#execute().then(() => metric.calls.add(1), err => this.#fail(err))
  }

  connectAsync (urlOrOptions, options) {
    this.#prepare(urlOrOptions, options)
    return this.#execute().then(() => { metric.calls.add(1) }, err => this.#failAsync(err))
  }

  reconnect () {
    this.#disconnect('reconnect()')
    this.#execute().catch(err => this.#fail(err))
  }

  async reconnectAsync () {
    this.#disconnect('reconnect()')
    await this.#execute().catch(err => this.#failAsync(err))
  }

  publish (topic, payload, options) {
    const p = this.#publishPrepare(topic, payload, options)
    this.#publishExecute(p).catch(err => this.#fail(err))
  }

  publishAsync (topic, payload, options) {
    const p = this.#publishPrepare(topic, payload, options)
    return this.#publishExecute(p).catch(err => this.#failAsync(err))
  }

  subscribe (topic, options) {
    const s = this.#subscribePrepare(topic, options)
    this.#subscribeExecute(s).catch(err => this.#fail(err))
  }

  subscribeAsync (topic, options) {
    const s = this.#subscribePrepare(topic, options)
    return this.#subscribeExecute(s).catch(err => this.#failAsync(err))
  }

  unsubscribe (topic, options) {
    const t = this.#unsubscribePrepare(topic, options)
    this.#unsubscribeExecute(t).catch(err => this.#fail(err))
  }

  unsubscribeAsync (topic, options) {
    const t = this.#unsubscribePrepare(topic, options)
    return this.#unsubscribeExecute(t).catch(err => this.#failAsync(err))
  }

  end (options) {
    readOptions('end()', options)
    this.#fire('end')
    metric.calls.add(1)
    this.#disconnect()
    this.#stopLoop()
  }

  async endAsync (options) { this.end(options) }

  #prepare (urlOrOptions, options) {
    this.#disconnect('connect() on a Client that connected before')
    if (typeof urlOrOptions === 'string') {
      this.#url = urlOrOptions
    } else if (typeof urlOrOptions === 'object' && urlOrOptions !== null && !Array.isArray(urlOrOptions)) {
      this.#url = ''
      options = urlOrOptions
    } else {
      throw new TypeError('connect(): invalid type: expected string or object')
    }
    this.#connect = readConnectOptions(options)
    if (this.#url !== '') brokerUrl(this.#url) // the extension resolves the address before connecting
  }

  async #execute () {
    const brokers = [this.#url, ...this.#connect.servers].filter(u => u !== '')
    if (brokers.length === 0) throw new MQTTError('connect', 'no servers defined to connect to')
    const conn = await this.#dial(brokers)
    // Here connect() returns before CONNACK, so end() can come first (the real one blocks).
    if (!this.#looping) { conn.end(true); return }
    this.#conn = conn
    this.#fire('connect')
  }

  /** One attempt on each broker in turn, as Paho does; the first that answers CONNACK wins. */
  async #dial (brokers) {
    let last
    for (const url of brokers) {
      try {
        return await this.#dialOne(url)
      } catch (err) {
        last = err
      }
    }
    throw new MQTTError('connect', last.message)
  }

  #dialOne (url) {
    const o = this.#options
    const credentials = o.credentials_provider?.() ?? {}
    const conn = mqtt.connect(brokerUrl(url), {
      protocolVersion: 4,
      clean: true,
      clientId: typeof o.client_id === 'string' ? o.client_id : '',
      username: typeof o.username === 'string' ? o.username : credentials.username,
      password: typeof o.password === 'string' ? o.password : credentials.password,
      will: o.will == null ? undefined : { topic: String(o.will.topic), payload: Buffer.from(String(o.will.payload ?? '')), qos: qosOf(o.will), retain: Boolean(o.will.retain) },
      keepalive: this.#connect.keepaliveSec,
      connectTimeout: this.#connect.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false
    })
    conn.on('message', (topic, payload) => {
      if (conn !== this.#conn) return
      metric.calls.add(1)
      metric.received.add(1)
      metric.dataReceived.add(payload.byteLength)
      this.#fire('message', topic, payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength))
    })
    return new Promise((resolve, reject) => {
      let up = false
      conn.on('connect', () => { up = true; resolve(conn) })
      // Paho logs errors of an established connection; only a failed connect is reported.
      conn.on('error', err => { if (!up) { reject(err); conn.end(true) } })
      conn.on('close', () => {
        if (!up) reject(new Error('connection closed before CONNACK'))
        else this.#lost(conn)
      })
    })
  }

  /** The broker or the network closed the current connection: reconnect as Paho does. */
  async #lost (conn) {
    if (conn !== this.#conn || this.#reconnecting) return
    this.#reconnecting = true
    let delayMs = this.#backoff.next('connectionLost', 3000, true)
    for (;;) {
      if (delayMs > 0) await new Promise(resolve => setTimeout(resolve, delayMs))
      if (this.#conn !== conn) return // ended or disconnected meanwhile
      this.#fire('reconnect')
      try {
        const next = await this.#dial([this.#url, ...this.#connect.servers].filter(u => u !== ''))
        if (this.#conn !== conn) { next.end(true); return }
        this.#conn = next
        this.#reconnecting = false
        this.#fire('connect')
        for (const p of this.#held.splice(0)) this.#publishExecute(p).catch(err => this.#fail(err))
        return
      } catch {
        delayMs = this.#backoff.next('attemptReconnection', this.#connect.connectTimeoutMs, false)
      }
    }
  }

  #disconnect (problem) {
    if (this.#conn === undefined) return
    if (problem !== undefined) report(`${problem}: xk6-mqtt stops delivering this Client's events; use a new Client`)
    this.#stopLoop()
    const conn = this.#conn
    this.#conn = undefined
    this.#reconnecting = false
    conn.end(!conn.connected)
  }

  #stopLoop () {
    this.#looping = false
    liveClients.delete(this)
  }

  #publishPrepare (topic, payload, options) {
    if (!this.connected) throw new MQTTError('publish', 'not connected')
    let data
    if (typeof payload === 'string') data = Buffer.from(payload)
    else if (payload instanceof Uint8Array || payload instanceof Uint8ClampedArray) data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
    else throw new TypeError('publish(): invalid type: String or ArrayBuffer expected (xk6-mqtt takes a string or a Uint8Array; an ArrayBuffer is rejected)')
    const o = readOptions('publish()', options)
    return { topic: String(topic), data, qos: qosOf(o), retain: Boolean(o.retain) }
  }

  async #publishExecute (p) {
    if (this.#reconnecting) {
      if (p.qos > 0) this.#held.push(p)
      return
    }
    await this.#conn.publishAsync(p.topic, p.data, { qos: p.qos, retain: p.retain }).catch(err => { throw new MQTTError('publish', err.message) })
    metric.calls.add(1)
    metric.sent.add(1)
    metric.dataSent.add(p.data.byteLength)
  }

  #subscribePrepare (topic, options) {
    if (!this.connected) throw new MQTTError('subscribe', 'not connected')
    if (typeof topic !== 'string') throw new TypeError('subscribe(): invalid type: String or Array of String or Object expected (xk6-mqtt takes one topic string)')
    return { topic, qos: qosOf(readOptions('subscribe()', options)) }
  }

  async #subscribeExecute (s) {
    if (this.#reconnecting) throw new MQTTError('subscribe', 'not currently connected and ResumeSubs not set')
    await this.#conn.subscribeAsync(s.topic, { qos: s.qos }).catch(err => { throw new MQTTError('subscribe', err.message) })
    metric.calls.add(1)
  }

  #unsubscribePrepare (topic, options) {
    if (!this.connected) throw new MQTTError('unsubscribe', 'not connected')
    if (typeof topic !== 'string') throw new TypeError('unsubscribe(): invalid type: String or Array of String expected (xk6-mqtt takes one topic string)')
    readOptions('unsubscribe()', options)
    return topic
  }

  async #unsubscribeExecute (topic) {
    if (this.#reconnecting) throw new MQTTError('unsubscribe', 'not currently connected and ResumeSubs not set')
    await this.#conn.unsubscribeAsync(topic).catch(err => { throw new MQTTError('unsubscribe', err.message) })
    metric.calls.add(1)
  }

  /** A failed synchronous call: the `error` handler, or the exception the call would have thrown. */
  #fail (err) {
    if (this.#handleError(err)) return
    setImmediate(() => { throw err })
  }

  /** A failed *Async call: resolved when an `error` handler took the error, rejected otherwise. */
  #failAsync (err) {
    if (this.#handleError(err)) return undefined
    throw err
  }

  #handleError (err) {
    const e = err instanceof MQTTError ? err : new MQTTError('unknown', err.message)
    metric.errors.add(1)
    return this.#fire('error', e.toEvent())
  }

  /** Queues the handler on the VU's loop, in order; false when none runs (no handler, loop stopped). */
  #fire (event, ...args) {
    const handler = this.#handlers.get(event)
    if (handler === undefined || !this.#looping) return false
    this.#queue.push(() => handler(...args))
    if (this.#queue.length === 1) setImmediate(() => this.#drain())
    return true
  }

  #drain () {
    while (this.#queue.length > 0) {
      const call = this.#queue[0]
      try {
        call()
      } finally {
        this.#queue.shift()
      }
    }
  }
}

/** A URL the extension accepts (scheme://host:port), as MQTT.js spells its scheme. */
function brokerUrl (text) {
  let url
  try {
    url = new URL(text)
  } catch {
    throw new TypeError(`connect(): ${JSON.stringify(text)} is not a URL (scheme://host:port)`)
  }
  const scheme = SCHEMES[url.protocol]
  if (scheme === undefined) throw new TypeError(`connect(): unsupported scheme ${url.protocol} in ${text}`)
  if (url.port === '') throw new TypeError(`connect(): ${text} has no port`)
  return scheme + text.slice(url.protocol.length)
}

/**
 * Paho's reconnect backoff (backoff.go): per situation, the first occurrence sleeps 0
 * (connection lost) or 1 s (failed attempt); an occurrence within twice the processing time
 * plus the last sleep of the previous one sleeps 1 s, then double that, up to 10 minutes.
 */
class Backoff {
  #last = new Map()

  next (situation, processMs, skipFirst) {
    const now = Date.now()
    const s = this.#last.get(situation)
    const first = skipFirst ? 0 : 1000
    if (s === undefined || now - s.at > processMs * 2 + s.sleepMs) {
      this.#last.set(situation, { at: now, sleepMs: first })
      return first
    }
    s.at = now
    s.sleepMs = s.sleepMs === 0 ? 1000 : Math.min(s.sleepMs * 2, 600_000)
    return s.sleepMs
  }
}
