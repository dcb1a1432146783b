/**
 * How benchmark results are shown: a live progress line on a terminal, a final table,
 * a k6-style summary (`--json`, the shape of k6's handleSummary data) and a
 * self-contained HTML report with latency charts (`--report FILE.html`).
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

export function progressLine (p: Progress): string {
  return `  ${p.elapsedS.toFixed(1).padStart(6)} s   sent ${n(p.sentPerS).padStart(9)} msg/s   received ${n(p.receivedPerS).padStart(9)} msg/s`
}

function percentileLine (label: string, p: Percentiles): string {
  return `  ${label.padEnd(26)} p50 ${ms(p.p50)}  p95 ${ms(p.p95)}  p99 ${ms(p.p99)}  p99.9 ${ms(p.p999)}  max ${ms(p.max)}  (n=${n(p.count)})`
}

export function renderTable (r: BenchResult): string {
  const settings = Object.entries(r.settings).map(([k, v]) => `${k} ${String(v)}`).join(', ')
  const lines = [`slotmq bench ${r.scenario}  (${settings})`]
  if (r.sent > 0 || r.received > 0) {
    lines.push(`  ${'sent'.padEnd(26)} ${n(r.sent)} msg  (${n(r.sentPerS)} msg/s)`)
    lines.push(`  ${'received'.padEnd(26)} ${n(r.received)} msg  (${n(r.receivedPerS)} msg/s) of ${n(r.expected)} expected`)
    lines.push(`  ${'lost / dup / out of order'.padEnd(26)} ${n(r.lost)} / ${n(r.duplicated)} / ${n(r.outOfOrder)}   errors ${n(r.errors)}`)
  }
  if (r.latency !== undefined) lines.push(percentileLine('end-to-end latency ms', r.latency))
  if (r.ack !== undefined && r.ack.count > 0) lines.push(percentileLine('publish ack latency ms', r.ack))
  for (const [name, p] of Object.entries(r.timings)) lines.push(percentileLine(`${name.replace(/_/g, ' ')} ms`, p))
  for (const [k, v] of Object.entries(r.facts)) lines.push(`  ${k.replace(/_/g, ' ').padEnd(26)} ${typeof v === 'number' ? n(v) : String(v)}`)
  if (r.redis !== undefined) lines.push(...redisLines(r.redis))
  lines.push(`  ${'duration'.padEnd(26)} ${r.durationS} s`)
  return lines.join('\n') + '\n'
}

function redisLines (c: RedisCost): string[] {
  const per = perMessage(c)
  const of = (x: number | undefined): string => x === undefined ? 'no message delivered' : `${ratio(x)} per delivered message`
  return [
    `  ${'redis commands'.padEnd(26)} ${n(c.commands)}  (${of(per?.commands)}; ${c.primaries} primaries; commands called by scripts included)`,
    `  ${'redis script calls'.padEnd(26)} ${n(c.scriptCalls)}  (${of(per?.scriptCalls)})`
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

const esc = (s: string): string => s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c] as string))

interface Series { name: string, color: string, points: Array<[number, number]> }

/** A line chart as inline SVG: no scripts, no external files. */
function lineChart (title: string, xLabel: string, yLabel: string, series: Series[], xTicks?: Array<[number, string]>): string {
  const W = 720
  const H = 300
  const L = 60
  const B = 40
  const all = series.flatMap(s => s.points)
  if (all.length === 0) return `<h2>${esc(title)}</h2><p>No data.</p>`
  const xMin = Math.min(...all.map(p => p[0]))
  const xMax = Math.max(...all.map(p => p[0]), xMin + 1)
  const yMax = Math.max(...all.map(p => p[1])) * 1.1 || 1
  const x = (v: number): number => L + (v - xMin) / (xMax - xMin) * (W - L - 20)
  const y = (v: number): number => H - B - v / yMax * (H - B - 20)
  const lines = series.map(s => `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`)
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map(f => `<text x="${L - 6}" y="${y(yMax * f) + 4}" text-anchor="end">${ms(yMax * f)}</text><line x1="${L}" x2="${W - 20}" y1="${y(yMax * f)}" y2="${y(yMax * f)}" stroke="#eee"/>`)
  const xs = (xTicks ?? [0, 0.25, 0.5, 0.75, 1].map(f => [xMin + (xMax - xMin) * f, String(Math.round(xMin + (xMax - xMin) * f))] as [number, string]))
    .map(([v, label]) => `<text x="${x(v)}" y="${H - B + 16}" text-anchor="middle">${esc(label)}</text>`)
  const legend = series.map((s, i) => `<text x="${L + 10 + i * 90}" y="14" fill="${s.color}">■ ${esc(s.name)}</text>`)
  return `<h2>${esc(title)}</h2><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="sans-serif">` +
    `${yTicks.join('')}${lines.join('')}${xs.join('')}${legend.join('')}` +
    `<text x="${W / 2}" y="${H - 4}" text-anchor="middle">${esc(xLabel)}</text>` +
    `<text x="12" y="${H / 2}" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">${esc(yLabel)}</text></svg>`
}

export function htmlReport (r: BenchResult): string {
  const overTime = lineChart('Latency over time', 'second of the run', 'latency (ms)', [
    { name: 'p50', color: '#2b7bb9', points: r.timeline.filter(s => s.latency.count > 0).map(s => [s.second, s.latency.p50]) },
    { name: 'p95', color: '#e6a23c', points: r.timeline.filter(s => s.latency.count > 0).map(s => [s.second, s.latency.p95]) },
    { name: 'p99', color: '#d9534f', points: r.timeline.filter(s => s.latency.count > 0).map(s => [s.second, s.latency.p99]) }
  ])
  const rate = lineChart('Throughput', 'second of the run', 'messages per second', [
    { name: 'sent', color: '#2b7bb9', points: r.timeline.map(s => [s.second, s.sent]) },
    { name: 'received', color: '#5cb85c', points: r.timeline.map(s => [s.second, s.received]) }
  ])
  // Percentile axis on a "nines" scale: 90 -> 1, 99 -> 2, 99.9 -> 3 ...
  const nines = (p: number): number => p >= 100 ? 5 : -Math.log10(1 - p / 100)
  const dist = lineChart('Latency distribution', 'percentile', 'latency (ms)', [
    { name: 'latency', color: '#6f42c1', points: r.distribution.map(([p, v]) => [Math.min(nines(p), 5), v]) }
  ], [[0, '0'], [1, '90'], [2, '99'], [3, '99.9'], [4, '99.99'], [5, 'max']])
  return `<!doctype html><html><head><meta charset="utf-8"><title>slotmq bench ${esc(r.scenario)}</title>
<style>body{font-family:sans-serif;max-width:780px;margin:2em auto;color:#222}pre{background:#f6f8fa;padding:1em;overflow:auto}</style></head>
<body><h1>slotmq bench ${esc(r.scenario)}</h1><pre>${esc(renderTable(r))}</pre>${overTime}${rate}${dist}
<p>Generated ${esc(new Date().toISOString())}.</p></body></html>
`
}
