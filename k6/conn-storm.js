// conn-storm: every VU opens COUNT connections one after another (alternating between
// MQTT_PUB_URL and MQTT_SUB_URL), holds them for DURATION, then closes them.
// Measures CONNACK time and failed connects.
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=20 -e COUNT=100 -e DURATION=10s k6/conn-storm.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { oncePerVu, settings } from './lib/common.js'

const connectTime = new Trend('mqtt_connect_time', true)
const failures = new Counter('mqtt_connect_failures')
const connected = new Counter('mqtt_connections')

export const options = {
  scenarios: { conn_storm: oncePerVu(settings.vus, settings.durationMs) },
  thresholds: {
    mqtt_connect_time: ['p(95)<1000'],
    mqtt_connect_failures: ['count==0']
  }
}

export default function () {
  const clients = []
  const open = (i) => {
    if (i >= settings.count) {
      setTimeout(() => { for (const c of clients) c.end() }, settings.durationMs)
      return
    }
    const client = new Client({ client_id: `k6-conn-${__VU}-${i}-${Date.now()}` })
    const started = Date.now()
    let settled = false
    client.on('connect', () => {
      if (settled) return
      settled = true
      connectTime.add(Date.now() - started)
      connected.add(1)
      open(i + 1)
    })
    client.on('error', () => {
      if (settled) return
      settled = true
      failures.add(1)
      open(i + 1)
    })
    clients.push(client)
    client.connect(i % 2 === 0 ? settings.pubUrl : settings.subUrl)
  }
  open(0)
}
