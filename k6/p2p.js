// p2p: every VU is one pair: a publisher on MQTT_PUB_URL and a subscriber on MQTT_SUB_URL
// (another node of the cluster, for cross-node traffic), one topic per pair, RATE
// publishes per second per pair for DURATION. Measures end-to-end latency from the
// payload timestamp, lost and duplicated messages.
// Run: k6 run -e MQTT_PUB_URL=mqtt://node-a:1883 -e MQTT_SUB_URL=mqtt://node-b:1883 -e VUS=10 -e DURATION=30s k6/p2p.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { finishWhen, makePayload, oncePerVu, readPayload, runId, settings, StreamTracker } from './lib/common.js'

const latency = new Trend('mqtt_e2e_latency', true)
const lost = new Counter('mqtt_lost')
const duplicated = new Counter('mqtt_duplicated')
const sentMessages = new Counter('mqtt_sent')
const receivedMessages = new Counter('mqtt_received')
const run = runId()

export const options = {
  scenarios: { p2p: oncePerVu(settings.vus, settings.durationMs) },
  thresholds: {
    mqtt_e2e_latency: ['p(99)<50'],
    mqtt_lost: ['count==0'],
    mqtt_duplicated: ['count==0']
  }
}

export default function () {
  const topic = `k6/${run}/p2p/${__VU}`
  const tracker = new StreamTracker()
  let sent = 0
  const sub = new Client({ client_id: `k6-${run}-s${__VU}` })
  const pub = new Client({ client_id: `k6-${run}-p${__VU}` })

  let check = () => {}
  sub.on('message', (_topic, payload) => {
    const p = readPayload(payload)
    if (p === undefined || !tracker.add(p.seq)) {
      duplicated.add(1)
      return
    }
    receivedMessages.add(1)
    latency.add(Date.now() - p.sentAt)
    check()
  })
  sub.on('connect', async () => {
    await sub.subscribeAsync(topic, { qos: settings.qos })
    pub.connect(settings.pubUrl)
  })
  pub.on('connect', () => {
    const timer = setInterval(() => {
      pub.publish(topic, makePayload(++sent, settings.size), { qos: settings.qos })
      sentMessages.add(1)
    }, 1000 / settings.rate)
    setTimeout(() => {
      clearInterval(timer)
      // the last messages get up to DRAIN_MS to arrive, then what never did is counted
      check = finishWhen(() => tracker.complete(sent), settings.drainMs, () => {
        lost.add(tracker.lost(sent))
        pub.end()
        sub.end()
      })
      check()
    }, settings.durationMs)
  })
  sub.connect(settings.subUrl)
}
