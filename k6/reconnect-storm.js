// reconnect-storm: every VU owns one persistent session (clean session off) and keeps
// moving it: disconnect, then connect again with the same client id on the other node
// (MQTT_PUB_URL and MQTT_SUB_URL alternate), every INTERVAL_MS for DURATION. A
// publisher on MQTT_PUB_URL sends QoS 1 messages to the session's topic throughout;
// messages published while the session was offline must arrive after each reconnect.
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=20 -e DURATION=30s k6/reconnect-storm.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { makePayload, oncePerVu, readPayload, settings, StreamTracker } from './lib/common.js'

const reconnectTime = new Trend('mqtt_reconnect_time', true)
const failures = new Counter('mqtt_connect_failures')
const lost = new Counter('mqtt_lost')
const duplicated = new Counter('mqtt_duplicated')
const interval = Number(__ENV.INTERVAL_MS || 1000)

export const options = {
  scenarios: { reconnect_storm: oncePerVu(settings.vus, settings.durationMs) },
  thresholds: {
    mqtt_reconnect_time: ['p(95)<1000'],
    mqtt_connect_failures: ['count==0'],
    mqtt_lost: ['count==0']
  }
}

export default function () {
  const clientId = `k6-reconnect-${__VU}-${Date.now()}`
  const topic = `k6/reconnect/${clientId}`
  const tracker = new StreamTracker()
  const endAt = Date.now() + settings.durationMs
  let sent = 0
  let moves = 0
  let publisher

  const connectSession = () => {
    const url = moves % 2 === 0 ? settings.subUrl : settings.pubUrl
    const client = new Client({ clientId })
    const started = Date.now()
    client.on('message', (_t, payload) => {
      const p = readPayload(payload)
      if (p !== undefined && !tracker.add(p.seq)) duplicated.add(1)
    })
    let connected = false
    // Only a connect that fails counts; an error on a connection being ended (the broker
    // closing it as the next connect takes the session over) is not a connect failure.
    client.on('error', () => { if (!connected) failures.add(1) })
    client.on('connect', async () => {
      connected = true
      reconnectTime.add(Date.now() - started)
      if (moves === 0) {
        await client.subscribeAsync(topic, { qos: 1 })
        startPublisher()
      }
      moves++
      setTimeout(() => {
        client.end()
        if (Date.now() < endAt) connectSession()
        else finish()
      }, interval)
    })
    client.connect(url, { clean_session: false })
  }

  const startPublisher = () => {
    publisher = new Client({ clientId: `${clientId}-pub` })
    publisher.on('connect', () => {
      const timer = setInterval(() => publisher.publish(topic, makePayload(++sent, settings.size), { qos: 1 }), 1000 / settings.rate)
      setTimeout(() => clearInterval(timer), settings.durationMs - interval)
    })
    publisher.connect(settings.pubUrl)
  }

  // The last connection stays until everything published has had time to arrive.
  const finish = () => {
    const last = new Client({ clientId })
    last.on('message', (_t, payload) => {
      const p = readPayload(payload)
      if (p !== undefined && !tracker.add(p.seq)) duplicated.add(1)
    })
    last.on('connect', () => setTimeout(() => {
      lost.add(tracker.lost(sent))
      last.end()
      publisher.end()
    }, 1500))
    last.connect(settings.subUrl, { clean_session: false })
  }

  connectSession()
}
