/**
 * Well-behaved clients that keep working while a test attacks their node: `pub`
 * publishes numbered QoS 1 messages, one after another, to a topic that both `pub`
 * (to itself) and `sub` subscribe to. After `stop`, every acknowledged message must
 * have reached both of them.
 */
import assert from 'node:assert/strict'
import { connect, unique } from './mqtt.js'
import { until } from './until.js'

export interface SteadyTraffic {
  /** Stops publishing; resolves with the number of publishes the broker acknowledged. */
  stop: () => Promise<number>
  /** Waits until both clients hold every acknowledged message; fails naming the missing ones. */
  expectAllDelivered: (timeoutMs?: number) => Promise<void>
}

export async function steadyTraffic (url: string): Promise<SteadyTraffic> {
  const topic = unique('steady')
  const pub = await connect(url, { clientId: unique('steady-pub'), keepalive: 30 })
  const sub = await connect(url, { clientId: unique('steady-sub'), keepalive: 30 })
  const seen = { pub: new Set<number>(), sub: new Set<number>() }
  for (const [name, client] of [['pub', pub], ['sub', sub]] as const) {
    client.on('message', (t, payload) => { if (t === topic) seen[name].add(Number(payload.toString())) })
    await client.subscribeAsync(topic, { qos: 1 })
  }
  let acked = 0
  const state = { running: true }
  const loop = (async () => {
    while (state.running) {
      await pub.publishAsync(topic, String(acked), { qos: 1 })
      acked++
    }
  })()
  return {
    stop: async () => {
      state.running = false
      await loop
      return acked
    },
    expectAllDelivered: async (timeoutMs = 10_000) => {
      assert.ok(acked > 0, 'the steady publisher got at least one PUBACK')
      const complete = (): boolean => seen.pub.size === acked && seen.sub.size === acked
      await until('every acknowledged message reached both clients', complete, timeoutMs).catch(() => {
        const missing = (s: Set<number>): number[] => Array.from({ length: acked }, (_, i) => i).filter(i => !s.has(i)).slice(0, 20)
        assert.fail(`of ${acked} acknowledged, pub lacks ${JSON.stringify(missing(seen.pub))}, sub lacks ${JSON.stringify(missing(seen.sub))}`)
      })
    }
  }
}
