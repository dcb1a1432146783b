// fanin: every VU publishes RATE messages per second on its own topic; VU 1 also runs one
// subscriber on MQTT_SUB_URL that receives all of them through a wildcard.
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=20 -e RATE=50 k6/fanin.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { finishWhen, oncePerVu, publishStream, settings, Streams, streamTopics } from './lib/common.js'

const latency = new Trend('mqtt_e2e_latency', true)
const lost = new Counter('mqtt_lost')
const duplicated = new Counter('mqtt_duplicated')
const receivedMessages = new Counter('mqtt_received')
const base = `k6/fanin/${__ENV.RUN_ID || 'run'}`
const SUBSCRIBE_GRACE_MS = 1000

export const options = {
  scenarios: { fanin: oncePerVu(settings.vus, settings.durationMs + SUBSCRIBE_GRACE_MS) },
  thresholds: {
    mqtt_e2e_latency: ['p(99)<100'],
    mqtt_lost: ['count==0'],
    mqtt_duplicated: ['count==0']
  }
}

export default function () {
  if (__VU === 1) subscribeAll()
  publishStream('fanin', `${base}/${__VU}`, SUBSCRIBE_GRACE_MS)
}

function subscribeAll () {
  const streams = new Streams(streamTopics(base), settings.messages)
  const sub = new Client({ client_id: `k6-fanin-s-${Date.now()}` })
  let check = () => {}
  sub.on('message', (topic, payload) => {
    const m = streams.receive(topic, payload)
    if (m === undefined) return
    if (m.duplicate) {
      duplicated.add(1)
      return
    }
    receivedMessages.add(1)
    latency.add(Date.now() - m.sentAt)
    check()
  })
  sub.on('connect', () => {
    sub.subscribe(`${base}/+`, { qos: settings.qos })
    check = finishWhen(() => streams.complete(), settings.durationMs + SUBSCRIBE_GRACE_MS + settings.drainMs, () => {
      lost.add(streams.lost())
      sub.end()
    })
  })
  sub.connect(settings.subUrl)
}
