/**
 * takeover-race-50 / -500: one persistent client id connects alternately to two nodes
 * about every 100 ms while messages flow to it; takeover-race-simultaneous: two connects
 * of that client id at the same moment on two nodes, round after round, and exactly one
 * of each pair must survive. Lost: acknowledged messages delivered to no connection of
 * the client id.
 */
import type { MqttClient } from 'mqtt'
import { Ledger, sample } from '../ledger.js'
import { Publisher } from '../publisher.js'
import type { ChaosContext, RunResult, Scenario } from '../types.js'
import { settle, sleep, waitFor } from '../wait.js'

const STEP_MS = 100
const ROUND_MS = 300

interface Race {
  ledger: Ledger
  publisher: Publisher
  topic: string
  clientId: string
  /** Connects one more connection of the client id; resolves with it, or undefined when it failed. */
  open: (slot: number) => Promise<{ client: MqttClient, connackMs: number, sessionPresent: boolean } | undefined>
  connackMs: number[]
  sessionAbsent: number
  failures: number
  /** When the stream started (ms). */
  startedAt: number
  /** Each connection's life from its CONNACK to its close (ms; `to` unset while open). */
  live: Array<{ from: number, to?: number }>
}

/** Slots of the two racing nodes and of the publisher (a third node when there is one). */
function slots (ctx: ChaosContext): { a: number, b: number, pub: number } {
  return ctx.fleet.size >= 3 ? { a: 1, b: 2, pub: 0 } : { a: 0, b: 1, pub: 0 }
}

async function startRace (ctx: ChaosContext, rate: number): Promise<Race> {
  const topic = `chaos/${ctx.tag}/s`
  const clientId = `${ctx.tag}-racer`
  const ledger = new Ledger()
  const race: Race = {
    ledger,
    topic,
    clientId,
    connackMs: [],
    sessionAbsent: 0,
    failures: 0,
    startedAt: 0,
    live: [],
    publisher: new Publisher({ pool: ctx.pool, ledger, clientId: `${ctx.tag}-pub`, message: () => ({ topic, retain: false }), reconnectUrls: failed => ctx.fleet.reconnectUrls(failed) }),
    open: async (slot) => {
      const started = Date.now()
      try {
        const { client, connack } = await ctx.pool.open(ctx.fleet.url(slot), { clientId, clean: false, timeoutMs: 5000, onMessage: (t, p) => ledger.deliver(t, p) })
        const connackMs = Date.now() - started
        race.connackMs.push(connackMs)
        const life: { from: number, to?: number } = { from: Date.now() }
        race.live.push(life)
        client.once('close', () => { life.to = Date.now() })
        if (!connack.sessionPresent) race.sessionAbsent++
        return { client, connackMs, sessionPresent: connack.sessionPresent }
      } catch {
        race.failures++
        return undefined
      }
    }
  }
  const first = await race.open(slots(ctx).a)
  if (first === undefined) throw new Error('the racing client could not connect')
  await first.client.subscribeAsync(topic, { qos: 1 })
  race.connackMs.length = 0
  race.sessionAbsent = 0
  await race.publisher.connect(ctx.fleet.url(slots(ctx).pub))
  race.startedAt = Date.now()
  race.publisher.startRate(rate)
  return race
}

/** Stops the stream, waits for delivery to settle on the last connection, books the counts. */
async function endRace (ctx: ChaosContext, race: Race, result: RunResult, last: () => MqttClient | undefined): Promise<void> {
  result.figures.connectedPct = connectedPercent(race.live, race.startedAt, Date.now())
  race.publisher.stopRate()
  await race.publisher.drained(5000)
  race.publisher.stop()
  await settle(() => race.ledger.missing().length === 0, () => race.ledger.lastDeliveryAt, ctx.options.settleMs)
  race.ledger.fill(result)
  if (result.lost > 0) {
    result.figures.lostSeqs = sample(race.ledger.missing())
    Object.assign(result.figures, await ctx.fleet.sessionFigures(race.clientId))
  }
  result.figures.unacknowledged = result.published - result.acknowledged
  const sorted = [...race.connackMs].sort((x, y) => x - y)
  result.figures.connects = sorted.length
  result.figures.connectFailures = race.failures
  result.figures.connackP50Ms = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0
  result.figures.connackMaxMs = sorted[sorted.length - 1] ?? 0
  result.checks.push({ name: 'session present on every takeover', ok: race.sessionAbsent === 0, detail: `${race.sessionAbsent} of ${sorted.length} connects found no session` })
  result.checks.push({ name: 'the last connection is still open', ok: last()?.connected === true, detail: last() === undefined ? 'no connection' : `connected: ${String(last()?.connected)}` })
}

function alternating (rate: number): Scenario {
  return {
    name: `takeover-race-${rate}`,
    summary: `one client id connects alternately to two nodes every ${STEP_MS} ms for --race-seconds while ${rate} msg/s flow to it`,
    run: async (ctx, result) => {
      const race = await startRace(ctx, rate)
      const { a, b } = slots(ctx)
      let last: MqttClient | undefined
      const until = Date.now() + ctx.options.raceSeconds * 1000
      for (let i = 1; Date.now() < until; i++) {
        const step = Date.now()
        const opened = await race.open(i % 2 === 1 ? b : a)
        if (opened !== undefined) last = opened.client
        await sleep(Math.max(0, STEP_MS - (Date.now() - step)))
      }
      await endRace(ctx, race, result, () => last)
    }
  }
}

export const takeoverRace50 = alternating(50)
export const takeoverRace500 = alternating(500)

export const takeoverRaceSimultaneous: Scenario = {
  name: 'takeover-race-simultaneous',
  summary: 'two connects of one client id at the same moment on two nodes, round after round, at --rate; exactly one of each pair survives',
  run: async (ctx, result) => {
    const race = await startRace(ctx, ctx.options.rate)
    const { a, b } = slots(ctx)
    let last: MqttClient | undefined
    let rounds = 0
    let bothSurvived = 0
    let noneSurvived = 0
    const until = Date.now() + ctx.options.raceSeconds * 1000
    while (Date.now() < until) {
      const step = Date.now()
      rounds++
      const pair = (await Promise.all([race.open(a), race.open(b)])).flatMap(o => o === undefined ? [] : [o.client])
      // The loser is closed within milliseconds of the winner's CONNACK (bounded wait).
      await waitFor(() => pair.filter(c => c.connected).length <= 1, 2000)
      const open = pair.filter(c => c.connected)
      if (open.length > 1) bothSurvived++
      if (open.length === 0) noneSurvived++
      last = open[0] ?? last
      await sleep(Math.max(0, ROUND_MS - (Date.now() - step)))
    }
    result.figures.rounds = rounds
    result.figures.bothSurvived = bothSurvived
    result.figures.noneSurvived = noneSurvived
    result.checks.push({ name: 'exactly one connection of each pair survives', ok: bothSurvived === 0 && noneSurvived === 0, detail: `${rounds} rounds: both survived ${bothSurvived}, none survived ${noneSurvived}` })
    await endRace(ctx, race, result, () => last)
  }
}

/**
 * The share of [from, to] during which the client id had a connection past its CONNACK and
 * not yet closed (overlapping lives counted once), in percent: a client that holds a live
 * connection only part of the time consumes only that part of the stream.
 */
export function connectedPercent (lives: ReadonlyArray<{ from: number, to?: number }>, from: number, to: number): number {
  const spans = lives.map(l => [Math.max(l.from, from), Math.min(l.to ?? to, to)] as const).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0])
  let covered = 0
  let end = from
  for (const [a, b] of spans) {
    if (b <= end) continue
    covered += b - Math.max(a, end)
    end = b
  }
  return to > from ? Math.round(100 * covered / (to - from)) : 0
}
