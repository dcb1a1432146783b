// reconnect-storm: takeovers, back to back. Every VU keeps one client id and moves it
// between MQTT_SUB_URL and MQTT_PUB_URL: a new connection with that id opens on the other
// node while the previous one is still connected, so the broker takes the session over and
// closes the previous connection [MQTT-3.1.4-2]. After each takeover the new connection
// subscribes, and a QoS 1 probe published on MQTT_PUB_URL must reach it. The next takeover
// starts INTERVAL_MS after the previous one, once its probe arrived (or was given up on
// after PROBE_TIMEOUT_MS and counted lost), until DURATION is over (at least one takeover
// per VU).
//
// Clean sessions only. xk6-mqtt always connects with clean session 1 (it has no option to
// turn it off: `clean_session: false` is ignored), so a persistent session carrying its
// queued messages between nodes cannot be expressed here; `slotmq bench takeover` measures
// that.
// The extension reconnects a connection the broker closed, at once and with the same client
// id (Paho's automatic reconnect, which a script cannot turn off), and that reconnect would
// take the session back. So the previous Client is ended as soon as the new one is connected.
// A Client connected again anyway (a late reconnect of the previous one closed it) is counted
// in mqtt_takeover_bounces, subscribes again and gets its probe again; one closed before its
// connect handler ran ("not connected" from subscribeAsync) subscribes when it is back.
// Run: k6 run -e MQTT_PUB_URL=... -e MQTT_SUB_URL=... -e VUS=20 -e DURATION=30s -e INTERVAL_MS=500 k6/reconnect-storm.js
import { Client } from 'k6/x/mqtt'
import { Counter, Trend } from 'k6/metrics'
import { makePayload, oncePerVu, readPayload, runId, settings } from './lib/common.js'

const takeoverTime = new Trend('mqtt_takeover_time', true)
const takeovers = new Counter('mqtt_takeovers')
const bounces = new Counter('mqtt_takeover_bounces')
const failures = new Counter('mqtt_connect_failures')
const lost = new Counter('mqtt_lost')
const interval = Number(__ENV.INTERVAL_MS || 1000)
const probeTimeout = Number(__ENV.PROBE_TIMEOUT_MS || 5000)
const run = runId()

export const options = {
  scenarios: { reconnect_storm: oncePerVu(settings.vus, settings.durationMs + probeTimeout) },
  thresholds: {
    mqtt_takeover_time: ['p(95)<1000'],
    mqtt_connect_failures: ['count==0'],
    mqtt_lost: ['count==0']
  }
}

export default function () {
  const clientId = `k6-takeover-${run}-${__VU}`
  const topic = `k6/takeover/${run}/${__VU}`
  const endAt = Date.now() + settings.durationMs
  const prober = new Client({ client_id: `${clientId}-probe` })
  let current // the Client that holds the session
  let moves = 0

  const takeOver = () => {
    const previous = current
    const move = ++moves
    const client = new Client({ client_id: clientId })
    current = client
    const started = Date.now()
    // The next move waits for both: INTERVAL_MS passed, and the probe arrived or was given up.
    let waited = false
    let probed = false
    let moved = false
    let giveUp
    const maybeMove = () => {
      if (moved || !waited || !probed) return
      moved = true
      clearTimeout(giveUp)
      if (Date.now() < endAt || move === 1) takeOver()
      else finish()
    }
    let connects = 0
    client.on('error', () => {
      if (connects > 0) return
      // A failed takeover: the previous connection still holds the session; try again.
      failures.add(1)
      client.end()
      current = previous
      setTimeout(() => Date.now() < endAt ? takeOver() : finish(), interval)
    })
    client.on('message', (_topic, payload) => {
      const p = readPayload(payload)
      if (p === undefined || p.seq !== move || probed) return
      probed = true
      maybeMove()
    })
    client.on('connect', async () => {
      connects++
      if (connects === 1) {
        // The broker is closing the previous connection: end that Client before its
        // automatic reconnect takes the session back.
        if (previous !== undefined) {
          previous.end()
          takeoverTime.add(Date.now() - started)
          takeovers.add(1)
        }
        setTimeout(() => { waited = true; maybeMove() }, interval)
        giveUp = setTimeout(() => {
          lost.add(1)
          probed = true
          maybeMove()
        }, probeTimeout)
      } else {
        bounces.add(1)
      }
      try {
        await client.subscribeAsync(topic, { qos: 1 })
      } catch (err) {
        // Closed again before this handler ran (the previous Client's automatic reconnect
        // took the session back): the extension reconnects it, and this handler runs again.
        return
      }
      prober.publish(topic, makePayload(move, settings.size), { qos: 1 })
    })
    client.connect(move % 2 === 1 ? settings.subUrl : settings.pubUrl)
  }

  const finish = () => {
    lost.add(0) // recorded either way: a run without the metric did not count
    current?.end()
    prober.end()
  }

  // The prober is connected once; should the extension reconnect it, the moves go on as they are.
  let begun = false
  prober.on('connect', () => {
    if (begun) return
    begun = true
    takeOver()
  })
  prober.connect(settings.pubUrl)
}
