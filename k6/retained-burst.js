// retained-burst: VU 1 publishes COUNT retained messages; after that every VU subscribes
// to them with one wildcard on MQTT_SUB_URL. Measures the time until a subscriber has all
// COUNT messages, and how many never arrived. VU 1 deletes the messages at the end.
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=20 -e COUNT=5000 k6/retained-burst.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { makePayload, oncePerVu, settings } from './lib/common.js'

const burstTime = new Trend('mqtt_retained_burst_time', true)
const lost = new Counter('mqtt_lost')
const received = new Counter('mqtt_received')
const base = `k6/retained/${__ENV.RUN_ID || 'run'}`
const PUBLISH_GRACE_MS = Number(__ENV.PUBLISH_GRACE_MS || 3000)

export const options = {
  scenarios: { retained_burst: oncePerVu(settings.vus, PUBLISH_GRACE_MS * 3) },
  thresholds: {
    mqtt_retained_burst_time: ['p(95)<5000'],
    mqtt_lost: ['count==0']
  }
}

const topicOf = (i) => `${base}/${i % 10}/${i}`

export default function () {
  if (__VU === 1) publishAll()
  setTimeout(subscribe, PUBLISH_GRACE_MS)
}

function publishAll () {
  const pub = new Client({ client_id: `k6-retained-p-${Date.now()}` })
  pub.on('connect', async () => {
    for (let i = 0; i < settings.count; i++) await pub.publishAsync(topicOf(i), makePayload(i, settings.size), { qos: 1, retain: true })
    // Delete them once every subscriber has had its turn.
    setTimeout(async () => {
      for (let i = 0; i < settings.count; i++) await pub.publishAsync(topicOf(i), '', { qos: 1, retain: true })
      pub.end()
    }, PUBLISH_GRACE_MS * 2)
  })
  pub.connect(settings.pubUrl)
}

function subscribe () {
  const sub = new Client({ client_id: `k6-retained-s${__VU}-${Date.now()}` })
  const topics = new Set()
  let started
  let done = false
  sub.on('message', (topic, payload) => {
    if (done || payload.byteLength === 0) return
    topics.add(topic)
    received.add(1)
    if (topics.size === settings.count) {
      done = true
      burstTime.add(Date.now() - started)
      lost.add(0) // recorded either way: a run without the metric did not count
      sub.end()
    }
  })
  sub.on('connect', () => {
    started = Date.now()
    sub.subscribe(`${base}/#`, { qos: settings.qos })
    setTimeout(() => {
      if (!done) {
        done = true
        lost.add(settings.count - topics.size)
        sub.end()
      }
    }, PUBLISH_GRACE_MS)
  })
  sub.connect(settings.subUrl)
}
