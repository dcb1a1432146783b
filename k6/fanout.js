// fanout: VU 1 publishes RATE messages per second to one topic; every VU (including 1)
// subscribes to it on MQTT_SUB_URL. Each message should reach all VUS subscribers.
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=50 -e RATE=100 k6/fanout.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { finishWhen, oncePerVu, publishStream, readPayload, settings, StreamTracker } from './lib/common.js'

const latency = new Trend('mqtt_e2e_latency', true)
const lost = new Counter('mqtt_lost')
const duplicated = new Counter('mqtt_duplicated')
const receivedMessages = new Counter('mqtt_received')
// Every VU must use the same topic: derive it from the test's start, not a random id.
const topic = `k6/fanout/${__ENV.RUN_ID || 'run'}`
const SUBSCRIBE_GRACE_MS = 1000

export const options = {
  scenarios: { fanout: oncePerVu(settings.vus, settings.durationMs + SUBSCRIBE_GRACE_MS) },
  thresholds: {
    mqtt_e2e_latency: ['p(99)<100'],
    mqtt_lost: ['count==0'],
    mqtt_duplicated: ['count==0']
  }
}

export default function () {
  const tracker = new StreamTracker()
  const sub = new Client({ client_id: `k6-fanout-s${__VU}-${Date.now()}` })
  let check = () => {}
  sub.on('message', (_t, payload) => {
    const p = readPayload(payload)
    if (p === undefined) return
    if (!tracker.add(p.seq)) {
      duplicated.add(1)
      return
    }
    receivedMessages.add(1)
    latency.add(Date.now() - p.sentAt)
    check()
  })
  sub.on('connect', async () => {
    await sub.subscribeAsync(topic, { qos: settings.qos })
    // Subscribers of the other VUs get a moment to subscribe first.
    if (__VU === 1) publishStream('fanout', topic, SUBSCRIBE_GRACE_MS)
    check = finishWhen(() => tracker.complete(settings.messages), settings.durationMs + SUBSCRIBE_GRACE_MS + settings.drainMs, () => {
      // Every message VU 1 published (1 .. settings.messages) must have arrived, also at a
      // subscriber that received none of them.
      lost.add(tracker.lost(settings.messages))
      sub.end()
    })
  })
  sub.connect(settings.subUrl)
}
