// Stand-in for xk6-mqtt's `k6/x/mqtt`, built on MQTT.js and following the extension's
// documented API (index.d.ts): new Client(options), connect(url, options), on(event),
// subscribe/subscribeAsync, publish/publishAsync, unsubscribe/unsubscribeAsync,
// end/endAsync, reconnect, `connected`. Messages arrive as ArrayBuffer.
import mqtt from 'mqtt'

export const QoS = { AtMostOnce: 0, AtLeastOnce: 1, ExactlyOnce: 2 }
export const openClients = new Set()

export class Client {
  #options
  #handlers = { connect: [], message: [], end: [], reconnect: [], error: [] }
  #client
  #last

  constructor (options = {}) {
    this.#options = options
  }

  get connected () { return this.#client?.connected === true }

  on (event, listener) {
    this.#handlers[event]?.push(listener)
  }

  #emit (event, ...args) {
    for (const h of this.#handlers[event] ?? []) {
      const r = h(...args)
      if (r instanceof Promise) r.catch(err => this.#emit('error', { name: 'MQTTError', message: err.message, method: event }))
    }
  }

  connect (url, options = {}) {
    if (typeof url === 'object') { options = url; url = options.servers?.[0] }
    this.#last = { url, options }
    const o = this.#options
    const client = mqtt.connect(url.replace(/^tcp:/, 'mqtt:'), {
      clientId: o.clientId ?? '',
      username: o.username ?? o.credentials_provider?.().username,
      password: o.password ?? o.credentials_provider?.().password,
      will: o.will === undefined ? undefined : { ...o.will, payload: Buffer.from(o.will.payload) },
      keepalive: options.keepalive ?? 60,
      connectTimeout: options.connect_timeout ?? 30000,
      clean: options.clean_session ?? true,
      reconnectPeriod: 0
    })
    this.#client = client
    openClients.add(this)
    client.on('connect', () => this.#emit('connect'))
    client.on('message', (topic, payload) => this.#emit('message', topic, payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength)))
    client.on('error', err => this.#emit('error', { name: 'MQTTError', message: err.message, method: 'connect' }))
    client.on('close', () => {
      if (!openClients.delete(this)) return
      this.#emit('end')
    })
  }

  reconnect () {
    this.#emit('reconnect')
    this.connect(this.#last.url, this.#last.options)
  }

  subscribe (topic, options = {}) { this.#client.subscribe(topic, { qos: options.qos ?? 0 }) }
  async subscribeAsync (topic, options = {}) { await this.#client.subscribeAsync(topic, { qos: options.qos ?? 0 }) }
  unsubscribe (topics) { this.#client.unsubscribe(topics) }
  async unsubscribeAsync (topics) { await this.#client.unsubscribeAsync(topics) }
  publish (topic, payload, options = {}) { this.#client.publish(topic, toBuffer(payload), { qos: options.qos ?? 0, retain: options.retain ?? false }) }
  async publishAsync (topic, payload, options = {}) { await this.#client.publishAsync(topic, toBuffer(payload), { qos: options.qos ?? 0, retain: options.retain ?? false }) }
  end () { this.#client?.end() }
  async endAsync () { await this.#client?.endAsync() }
}

function toBuffer (payload) {
  return typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(new Uint8Array(payload))
}
