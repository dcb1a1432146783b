/**
 * The self-contained HTML report of one run (`slotmq bench SCENARIO --report FILE.html`):
 * the summary (the table's rows, wrapping to the page width), then charts: end-to-end and
 * publish-acknowledgement latency over time, message rates, latency distributions.
 *
 * Rates are per second of the run. The last second of sending (or receiving) is usually
 * cut short by the end of that phase; its count is divided by the part of the second the
 * phase lasted, and a second that a phase covered less than half of is left out, because
 * a few messages in a few milliseconds are no rate (drawn as they were, they looked like
 * a collapse to 0 at the end of every run), and their percentiles are those of a handful
 * of messages.
 *
 * In a fan-out every publish reaches every subscriber, so the publish rate and the receive
 * rate of all subscribers differ by the number of subscribers: they get separate charts,
 * and a third compares what each subscriber received per second with the publish rate.
 */
import { esc, lineChart, type Series, type XAxis } from './chart.js'
import { settingsText, summaryRows } from './output.js'
import type { Percentiles, SecondSample } from './recorder.js'
import type { BenchResult } from './types.js'

/** A second that a phase covered less of than this gives no rate or latency point. */
export const MIN_COVERED = 0.5

type Phase = keyof SecondSample['covered']

/** Rate points of one per-second count: at the end of the part of the second its phase covered. */
export function ratePoints (timeline: SecondSample[], phase: Phase, count: (s: SecondSample) => number): Array<[number, number]> {
  return timeline
    .filter(s => s.covered[phase] >= MIN_COVERED)
    .map(s => [s.second - 1 + s.covered[phase], count(s) / s.covered[phase]])
}

/**
 * Latency points of the seconds that have samples, by the same rule: the percentiles of
 * the last few milliseconds of a run are those of a handful of messages, drawn as a spike
 * or a plunge at the end. Those messages are in the distribution and the summary.
 */
function latencyPoints (timeline: SecondSample[], phase: Phase, of: (s: SecondSample) => Percentiles, p: 'p50' | 'p95' | 'p99'): Array<[number, number]> {
  return timeline
    .filter(s => of(s).count > 0 && s.covered[phase] >= MIN_COVERED)
    .map(s => [s.second - 1 + s.covered[phase], of(s)[p]])
}

const TIME: XAxis = { label: 'seconds into the run', kind: 'linear' }
const PERCENTILE_TICKS: Array<[number, string]> = [[0, '0'], [1, '90'], [2, '99'], [3, '99.9'], [4, '99.99'], [5, 'max']]
const BLUE = '#2b7bb9'
const ORANGE = '#e6a23c'
const RED = '#d9534f'
const GREEN = '#5cb85c'
const PURPLE = '#6f42c1'

function percentileSeries (timeline: SecondSample[], phase: Phase, of: (s: SecondSample) => Percentiles): Series[] {
  return [
    { name: 'p50', color: BLUE, points: latencyPoints(timeline, phase, of, 'p50') },
    { name: 'p95', color: ORANGE, points: latencyPoints(timeline, phase, of, 'p95') },
    { name: 'p99', color: RED, points: latencyPoints(timeline, phase, of, 'p99') }
  ]
}

/** Percentile axis on a "nines" scale: 90 -> 1, 99 -> 2, 99.9 -> 3 ... max -> 5. */
function nines (points: Array<[number, number]>): Array<[number, number]> {
  return points.map(([p, v]) => [p >= 100 ? 5 : Math.min(5, -Math.log10(1 - p / 100)), v])
}

function distributionChart (id: string, title: string, series: Series[]): string {
  return lineChart({ id, title, x: { label: 'percentile', kind: 'percentile', ticks: PERCENTILE_TICKS }, yLabel: 'latency (ms)', series })
}

function flowCharts (r: BenchResult): string[] {
  const t = r.timeline
  const charts = [lineChart({
    id: 'latency-over-time',
    title: 'End-to-end latency over time',
    note: 'Publish to delivery, from the timestamp in each payload, by the second the message arrived (a last second shorter than half a second is left out).',
    x: TIME,
    yLabel: 'latency (ms)',
    series: percentileSeries(t, 'received', s => s.latency)
  })]
  if (r.ack !== undefined) {
    charts.push(lineChart({
      id: 'ack-latency',
      title: 'Publish acknowledgement latency over time',
      note: `QoS ${String(r.settings.qos ?? '')}: publish to ${r.settings.qos === 2 ? 'PUBCOMP' : 'PUBACK'} at the publisher, by the second the acknowledgement arrived.`,
      x: TIME,
      yLabel: 'latency (ms)',
      series: percentileSeries(t, 'ack', s => s.ack)
    }))
  } else {
    charts.push('<section class="chart" id="ack-latency"><h2>Publish acknowledgement latency</h2><p>QoS 0: publishes are not acknowledged.</p></section>')
  }
  const sent: Series = { name: 'sent', color: BLUE, points: ratePoints(t, 'sent', s => s.sent) }
  const received: Series = { name: 'received', color: GREEN, points: ratePoints(t, 'received', s => s.received) }
  if (r.expected > r.sent && t.some(s => s.perSubscriber !== undefined)) {
    const subscribers = String(r.facts.subscribers ?? 'all')
    const per = (name: string, color: string, pick: 'min' | 'median' | 'max'): Series =>
      ({ name, color, points: ratePoints(t, 'received', s => s.perSubscriber?.[pick] ?? 0) })
    charts.push(
      lineChart({ id: 'publish-rate', title: 'Publish rate', x: TIME, yLabel: 'messages per second', series: [sent] }),
      lineChart({
        id: 'receive-rate',
        title: `Receive rate, all ${subscribers} subscribers together`,
        note: 'Each publish is delivered to every subscriber: this is the publish rate times the subscribers when nothing is lost.',
        x: TIME,
        yLabel: 'messages per second',
        series: [received]
      }),
      lineChart({
        id: 'per-subscriber-rate',
        title: 'Receive rate per subscriber',
        note: 'Messages each subscriber received per second: the fewest, the median and the most of any subscriber, against the publish rate that each should receive.',
        x: TIME,
        yLabel: 'messages per second',
        series: [{ ...sent, name: 'publish rate', color: '#888', dashed: true }, per('fewest', RED, 'min'), per('median', GREEN, 'median'), per('most', PURPLE, 'max')]
      }))
  } else {
    charts.push(lineChart({ id: 'throughput', title: 'Throughput', x: TIME, yLabel: 'messages per second', series: [sent, received] }))
  }
  charts.push(distributionChart('latency-distribution', 'Latency distribution', [
    { name: 'end-to-end', color: PURPLE, points: nines(r.distribution) },
    ...(r.ackDistribution === undefined ? [] : [{ name: 'publish ack', color: ORANGE, points: nines(r.ackDistribution) }])
  ]))
  return charts
}

const STYLE = [
  '*{box-sizing:border-box}',
  'body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}',
  'h1{font-size:1.4em;overflow-wrap:anywhere}h2{font-size:1.1em;margin:0 0 .2em}',
  '.summary{background:#f6f8fa;padding:.75em 1em;border-radius:4px;overflow-wrap:anywhere}',
  '.summary table{width:100%;table-layout:fixed;border-collapse:collapse}',
  '.summary th{width:35%;text-align:left;font-weight:normal;color:#555;vertical-align:top;padding:2px 1em 2px 0}',
  '.summary td{font-family:monospace;white-space:pre-wrap;padding:2px 0}',
  '.chart{margin:2em 0}.chart svg{display:block;width:100%;height:auto}',
  '.note,.legend{margin:.2em 0;font-size:.9em;color:#555}'
].join('')

export function htmlReport (r: BenchResult): string {
  const rows = summaryRows(r).map(([label, value]) => `<tr><th>${esc(label)}</th><td>${esc(value)}</td></tr>`).join('')
  const flowed = r.sent > 0 || r.received > 0
  const timings = Object.entries(r.timingDistributions ?? {}).map(([name, points]) =>
    distributionChart(`distribution-${name.replace(/_/g, '-')}`, `Distribution: ${name.replace(/_/g, ' ')}`, [{ name: name.replace(/_/g, ' '), color: PURPLE, points: nines(points) }]))
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>slotmq bench ${esc(r.scenario)}</title><style>${STYLE}</style></head>
<body><h1>slotmq bench ${esc(r.scenario)}</h1>
<section class="summary" id="summary"><h2>Summary</h2><p class="settings">${esc(settingsText(r))}</p><table>${rows}</table></section>
${[...(flowed ? flowCharts(r) : []), ...timings].join('\n')}
<p class="note">Generated ${esc(new Date().toISOString())}.</p></body></html>
`
}
