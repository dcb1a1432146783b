// fanin: every VU publishes RATE messages per second on its own topic; VU 1 also runs one
// subscriber on MQTT_SUB_URL that receives all of them through a wildcard.
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=20 -e RATE=50 k6/fanin.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { makePayload, oncePerVu, readPayload, settings, StreamTracker } from './lib/common.js'

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
  const pub = new Client({ clientId: `k6-fanin-p${__VU}-${Date.now()}` })
  let seq = 0
  pub.on('connect', () => {
    setTimeout(() => {
      const timer = setInterval(() => pub.publish(`${base}/${__VU}`, makePayload(++seq, settings.size), { qos: settings.qos }), 1000 / settings.rate)
      setTimeout(() => { clearInterval(timer); setTimeout(() => pub.end(), 500) }, settings.durationMs)
    }, SUBSCRIBE_GRACE_MS)
  })
  pub.connect(settings.pubUrl)
}

function subscribeAll () {
  const streams = {}
  const sub = new Client({ clientId: `k6-fanin-s-${Date.now()}` })
  sub.on('message', (topic, payload) => {
    const p = readPayload(payload)
    if (p === undefined) return
    const s = streams[topic] || (streams[topic] = { tracker: new StreamTracker(), first: p.seq, last: 0 })
    if (!s.tracker.add(p.seq)) {
      duplicated.add(1)
      return
    }
    s.first = Math.min(s.first, p.seq)
    s.last = Math.max(s.last, p.seq)
    receivedMessages.add(1)
    latency.add(Date.now() - p.sentAt)
  })
  sub.on('connect', () => {
    sub.subscribe(`${base}/+`, { qos: settings.qos })
    setTimeout(() => {
      for (const topic of Object.keys(streams)) {
        const s = streams[topic]
        lost.add(s.tracker.lost(s.last - s.first + 1))
      }
      sub.end()
    }, settings.durationMs + SUBSCRIBE_GRACE_MS + 1500)
  })
  sub.connect(settings.subUrl)
}
