// sharedsub: every VU publishes RATE messages per second on its own topic; VU 1 also runs
// MEMBERS clients of one shared subscription group ($share/<group>/<base>/+), alternately
// on MQTT_SUB_URL and MQTT_PUB_URL, and checks that the group as a whole receives every
// message exactly once (MQTT 5 shared subscriptions, which slotmq also offers MQTT 3.1.1
// clients).
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=10 -e RATE=100 -e MEMBERS=3 k6/sharedsub.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { finishWhen, oncePerVu, publishStream, settings, Streams, streamTopics } from './lib/common.js'

const latency = new Trend('mqtt_e2e_latency', true)
const lost = new Counter('mqtt_lost')
const duplicated = new Counter('mqtt_duplicated')
const receivedMessages = new Counter('mqtt_received')
// Percentage of all received messages that each member got (100 / MEMBERS when even).
const memberShare = new Trend('mqtt_shared_member_share')
const members = Math.max(1, Number(__ENV.MEMBERS || 3))
const run = __ENV.RUN_ID || 'run'
const base = `k6/sharedsub/${run}`
const group = `k6-${run}`
const SUBSCRIBE_GRACE_MS = 1000

export const options = {
  scenarios: { sharedsub: oncePerVu(settings.vus, settings.durationMs + SUBSCRIBE_GRACE_MS) },
  thresholds: {
    mqtt_e2e_latency: ['p(99)<100'],
    mqtt_lost: ['count==0'],
    mqtt_duplicated: ['count==0']
  }
}

export default function () {
  if (__VU === 1) runGroup()
  publishStream('sharedsub', `${base}/${__VU}`, SUBSCRIBE_GRACE_MS)
}

/** The group's members, tracked together: a message any two members got is a duplicate. */
function runGroup () {
  const streams = new Streams(streamTopics(base), settings.messages)
  const counts = []
  const clients = []
  const check = finishWhen(() => streams.complete(), settings.durationMs + SUBSCRIBE_GRACE_MS + settings.drainMs, () => {
    lost.add(streams.lost())
    const total = counts.reduce((a, b) => a + b, 0)
    if (total > 0) for (const n of counts) memberShare.add(100 * n / total)
    for (const c of clients) c.end()
  })
  for (let i = 0; i < members; i++) {
    counts.push(0)
    const member = new Client({ client_id: `k6-sharedsub-m${i}-${Date.now()}` })
    member.on('message', (topic, payload) => {
      const m = streams.receive(topic, payload)
      if (m === undefined) return
      if (m.duplicate) {
        duplicated.add(1)
        return
      }
      counts[i]++
      receivedMessages.add(1)
      latency.add(Date.now() - m.sentAt)
      check()
    })
    member.on('connect', () => {
      member.subscribe(`$share/${group}/${base}/+`, { qos: settings.qos })
    })
    member.connect(i % 2 === 0 ? settings.subUrl : settings.pubUrl)
    clients.push(member)
  }
}
