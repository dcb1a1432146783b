/**
 * How benchmark results are shown: progress on stderr (a live line on a terminal, a
 * plain line every few seconds otherwise), a final table, and a k6-style summary
 * (`--json`, the shape of k6's handleSummary data). The HTML report is in report.ts.
 */
import type { Percentiles } from './recorder.js'
import { perMessage, type RedisCost } from './redis-cost.js'
import type { BenchResult, Progress } from './types.js'

const n = (x: number): string => Math.round(x).toLocaleString('en-US')
const ms = (x: number): string => x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)

/** A per-message ratio with two significant decimals below 10, as the tables show it. */
export function ratio (x: number): string {
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : n(x)
}

/** The live progress line on a terminal (rewritten in place about once a second). */
export function progressLine (p: Progress): string {
  if (p.steps !== undefined) return `  ${p.elapsedS.toFixed(1).padStart(6)} s   ${n(p.steps.done)} of ${n(p.steps.total)} ${p.steps.unit}`
  return `  ${p.elapsedS.toFixed(1).padStart(6)} s   sent ${n(p.sentPerS).padStart(9)} msg/s   received ${n(p.receivedPerS).padStart(9)} msg/s`
}

/**
 * Progress for a log or a pipe, where a line rewritten in place shows nothing: a whole
 * line at most every `everyS` seconds, with what was done so far and the rate since the
 * previous line.
 */
export class ProgressLog {
  readonly #label: string
  readonly #everyS: number
  #last = { elapsedS: 0, sent: 0, received: 0, done: 0 }

  constructor (scenario: string, everyS: number) {
    this.#label = `slotmq bench ${scenario}:`
    this.#everyS = everyS
  }

  /** The line to print for this report, or undefined when the previous one is younger than `everyS`. */
  line (p: Progress): string | undefined {
    const dt = p.elapsedS - this.#last.elapsedS
    // Timers fire a little late or early: a report due now is not put off by a whole interval.
    if (this.#everyS <= 0 || dt < this.#everyS - 0.1 || dt <= 0) return undefined
    const rate = (now: number, before: number): string => n((now - before) / dt)
    const sent = p.sent ?? 0
    const received = p.received ?? 0
    const done = p.steps?.done ?? 0
    const what = p.steps !== undefined
      ? `${n(done)} of ${n(p.steps.total)} ${p.steps.unit} (${rate(done, this.#last.done)}/s)`
      : `sent ${n(sent)} msg (${rate(sent, this.#last.sent)} msg/s), received ${n(received)} msg (${rate(received, this.#last.received)} msg/s)`
    this.#last = { elapsedS: p.elapsedS, sent, received, done }
    return `${this.#label} ${p.elapsedS.toFixed(1)} s, ${what}`
  }
}

/** One line of the summary: what, and its value. */
export type SummaryRow = [label: string, value: string]

const percentileRow = (label: string, p: Percentiles): SummaryRow =>
  [label, `p50 ${ms(p.p50)}  p95 ${ms(p.p95)}  p99 ${ms(p.p99)}  p99.9 ${ms(p.p999)}  max ${ms(p.max)}  (n=${n(p.count)})`]

/** The settings of the run, as the table's first line shows them. */
export function settingsText (r: BenchResult): string {
  return Object.entries(r.settings).map(([k, v]) => `${k} ${String(v)}`).join(', ')
}

/** The summary of a run, row by row: the table prints them padded, the HTML report as a table. */
export function summaryRows (r: BenchResult): SummaryRow[] {
  const rows: SummaryRow[] = []
  if (r.sent > 0 || r.received > 0) {
    rows.push(['sent', `${n(r.sent)} msg  (${n(r.sentPerS)} msg/s)`])
    rows.push(['received', `${n(r.received)} msg  (${n(r.receivedPerS)} msg/s) of ${n(r.expected)} expected`])
    rows.push(['lost / dup / out of order', `${n(r.lost)} / ${n(r.duplicated)} / ${n(r.outOfOrder)}   errors ${n(r.errors)}`])
  }
  if (r.latency !== undefined) rows.push(percentileRow('end-to-end latency ms', r.latency))
  if (r.ack !== undefined && r.ack.count > 0) rows.push(percentileRow('publish ack latency ms', r.ack))
  for (const [name, p] of Object.entries(r.timings)) rows.push(percentileRow(`${name.replace(/_/g, ' ')} ms`, p))
  for (const [k, v] of Object.entries(r.facts)) rows.push([k.replace(/_/g, ' '), typeof v === 'number' ? n(v) : String(v)])
  if (r.redis !== undefined) rows.push(...redisRows(r.redis))
  rows.push(['duration', `${r.durationS} s`])
  return rows
}

export function renderTable (r: BenchResult): string {
  const lines = [`slotmq bench ${r.scenario}  (${settingsText(r)})`, ...summaryRows(r).map(([label, value]) => `  ${label.padEnd(26)} ${value}`)]
  return lines.join('\n') + '\n'
}

function redisRows (c: RedisCost): SummaryRow[] {
  const per = perMessage(c)
  const of = (x: number | undefined): string => x === undefined ? 'no message delivered' : `${ratio(x)} per delivered message`
  return [
    ['redis commands', `${n(c.commands)}  (${of(per?.commands)}; ${c.primaries} primaries; commands called by scripts included)`],
    ['redis script calls', `${n(c.scriptCalls)}  (${of(per?.scriptCalls)})`]
  ]
}

function trend (p: Percentiles): Record<string, unknown> {
  return {
    type: 'trend',
    contains: 'time',
    values: { avg: p.mean, min: p.min, med: p.p50, max: p.max, 'p(90)': p.p90, 'p(95)': p.p95, 'p(99)': p.p99, 'p(99.9)': p.p999 }
  }
}

function counter (count: number, durationS: number): Record<string, unknown> {
  return { type: 'counter', contains: 'default', values: { count, rate: durationS > 0 ? count / durationS : 0 } }
}

function gauge (value: number): Record<string, unknown> {
  return { type: 'gauge', contains: 'default', values: { value, min: value, max: value } }
}

/** The result in the shape of k6's end-of-test summary data (handleSummary). */
export function k6Summary (r: BenchResult): Record<string, unknown> {
  const metrics: Record<string, unknown> = {}
  if (r.sent > 0 || r.received > 0) {
    metrics.mqtt_messages_sent = counter(r.sent, r.durationS)
    metrics.mqtt_messages_received = counter(r.received, r.durationS)
    metrics.mqtt_messages_lost = counter(r.lost, r.durationS)
    metrics.mqtt_messages_duplicated = counter(r.duplicated, r.durationS)
    metrics.mqtt_messages_out_of_order = counter(r.outOfOrder, r.durationS)
    metrics.mqtt_publish_errors = counter(r.errors, r.durationS)
  }
  if (r.latency !== undefined) metrics.mqtt_e2e_latency = trend(r.latency)
  if (r.ack !== undefined && r.ack.count > 0) metrics.mqtt_ack_latency = trend(r.ack)
  for (const [name, p] of Object.entries(r.timings)) metrics[`slotmq_${name}`] = trend(p)
  for (const [k, v] of Object.entries(r.facts)) {
    if (typeof v === 'number') metrics[`slotmq_${k}`] = gauge(v)
  }
  if (r.redis !== undefined) {
    metrics.redis_commands = counter(r.redis.commands, r.durationS)
    metrics.redis_script_calls = counter(r.redis.scriptCalls, r.durationS)
    const per = perMessage(r.redis)
    if (per !== undefined) {
      metrics.redis_commands_per_message = gauge(per.commands)
      metrics.redis_script_calls_per_message = gauge(per.scriptCalls)
    }
  }
  return {
    root_group: { name: '', path: '', id: 'd41d8cd98f00b204e9800998ecf8427e', groups: [], checks: [] },
    options: { summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)'], summaryTimeUnit: 'ms', noColor: false },
    state: { isStdOutTTY: process.stdout.isTTY === true, isStdErrTTY: process.stderr.isTTY === true, testRunDurationMs: Math.round(r.durationS * 1000) },
    metrics,
    slotmq: { scenario: r.scenario, settings: r.settings, facts: r.facts, ...(r.redis === undefined ? {} : { redis: r.redis }), timeline: r.timeline }
  }
}
