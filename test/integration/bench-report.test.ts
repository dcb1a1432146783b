/**
 * What `slotmq bench` shows a user: progress lines when its output goes to a pipe (not a
 * terminal), and an HTML report looked at in a real headless Chromium: the summary fits
 * the page, tick labels are round numbers, the last second is no collapse to 0, fan-out
 * gets separate publish, receive and per-subscriber rate charts, and there is an
 * acknowledgement latency chart.
 *
 * Chromium comes from Debian (`.ci/run` installs chromium-headless-shell). Without it the
 * browser tests fail under CI and are skipped, saying so, elsewhere.
 */
import { after, before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { runScenario } from '../../src/bench/command.js'
import { htmlReport } from '../../src/bench/report.js'
import { findChromium, openBrowser, type Page } from '../helpers/browser.js'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { runSlotmq, type CommandRun } from '../helpers/process.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'

/** What the page reports about itself (evaluated in the browser). */
interface Layout {
  summary: { scrollWidth: number, clientWidth: number } | null
  page: { scrollWidth: number, clientWidth: number }
  charts: Array<{ id: string, svg: boolean, width: number, parentWidth: number }>
  ticks: Array<{ chart: string, axis: string, scale: string, labels: string[] }>
  series: Array<{ chart: string, name: string, points: Array<[number, number]> }>
  texts: string[]
}

const MEASURE = `(() => {
  const box = e => e === null ? null : { scrollWidth: e.scrollWidth, clientWidth: e.clientWidth }
  const chartOf = e => e.closest('.chart')?.id ?? ''
  return {
    summary: box(document.getElementById('summary')),
    page: box(document.documentElement),
    charts: [...document.querySelectorAll('.chart')].map(c => {
      const svg = c.querySelector('svg')
      return { id: c.id, svg: svg !== null, width: svg === null ? 0 : svg.getBoundingClientRect().width, parentWidth: c.getBoundingClientRect().width }
    }),
    ticks: [...document.querySelectorAll('g.ticks')].map(g => ({ chart: chartOf(g), axis: g.dataset.axis, scale: g.dataset.scale, labels: [...g.querySelectorAll('text')].map(t => t.textContent) })),
    series: [...document.querySelectorAll('g.series')].map(g => ({
      chart: chartOf(g),
      name: g.dataset.series,
      points: g.dataset.points === '' ? [] : g.dataset.points.split(' ').map(p => p.split(':').map(Number))
    })),
    texts: [...document.querySelectorAll('.chart')].map(c => c.textContent)
  }
})()`

/** A round step: 1, 2 or 5 times a power of ten. */
function isRoundStep (step: number): boolean {
  const power = 10 ** Math.floor(Math.log10(step) + 1e-9)
  return [1, 2, 5, 10].some(m => Math.abs(step / power - m) < 1e-6)
}

/** Every linear axis starts at 0 and goes up in one round step. */
function assertRoundTicks (layout: Layout): void {
  const linear = layout.ticks.filter(t => t.scale === 'linear')
  assert.ok(linear.length >= 2, `linear axes: ${JSON.stringify(layout.ticks)}`)
  for (const axis of linear) {
    const values = axis.labels.map(l => Number(l.replace(/,/g, '')))
    const where = `${axis.chart} ${axis.axis} axis ${JSON.stringify(axis.labels)}`
    assert.ok(values.length >= 2 && values.every(Number.isFinite), `numeric tick labels: ${where}`)
    assert.equal(values[0], 0, `starts at 0: ${where}`)
    const step = (values[1] as number) - (values[0] as number)
    assert.ok(isRoundStep(step), `the step ${step} is 1, 2 or 5 x 10^n: ${where}`)
    values.forEach((v, k) => assert.ok(Math.abs(v - k * step) < step * 1e-6, `tick ${k} is ${k} steps: ${where}`))
  }
}

/** Nothing sticks out sideways: not the summary, not a chart, not the page. */
function assertFits (layout: Layout, width: number): void {
  assert.ok(layout.summary !== null, 'the page has a summary (#summary)')
  assert.ok(layout.summary.scrollWidth <= layout.summary.clientWidth, `at ${width} px the summary fits its box: ${JSON.stringify(layout.summary)}`)
  assert.ok(layout.page.scrollWidth <= layout.page.clientWidth, `at ${width} px the page does not scroll sideways: ${JSON.stringify(layout.page)}`)
  for (const c of layout.charts.filter(c => c.svg)) assert.ok(c.width <= c.parentWidth + 0.5, `at ${width} px chart ${c.id} fits: ${JSON.stringify(c)}`)
}

/**
 * Points over time (rates, latencies) are at the end of each second, or, for the last one, at the end of the part
 * of the second the run still covered, at least half of it: a second of which only a few
 * milliseconds ran is not drawn (it was, as a collapse to 0). The publish rate, which the
 * bench paces itself (--rate), does not fall at the end: its last point is no less than a
 * quarter of its median (the few publishes of a last second that had just begun were drawn
 * as a point near 0).
 */
function assertNoCollapse (layout: Layout, charts: string[]): void {
  const rates = layout.series.filter(s => charts.includes(s.chart))
  assert.ok(rates.length >= charts.length, `rate series of ${charts.join(', ')}: ${JSON.stringify(rates.map(s => [s.chart, s.name]))}`)
  for (const s of rates) {
    const where = `${s.chart}/${s.name}: ${JSON.stringify(s.points)}`
    assert.ok(s.points.length >= 1, `points: ${where}`)
    const last = s.points[s.points.length - 1] as [number, number]
    assert.ok(last[1] > 0, `the last point is not 0: ${where}`)
    s.points.slice(0, -1).forEach(([x]) => assert.ok(Number.isInteger(x), `only the last point may be a partial second: ${where}`))
    const part = last[0] - Math.floor(last[0])
    assert.ok(part === 0 || part >= 0.5, `a last second is drawn only when it covered at least half a second: ${where}`)
    if (s.name === 'sent' || s.name === 'publish rate') {
      const sorted = s.points.map(p => p[1]).sort((a, b) => a - b)
      const median = sorted[Math.floor(sorted.length / 2)] as number
      assert.ok(last[1] >= median / 4, `the paced publish rate does not collapse at the end: ${where}`)
    }
  }
}

describe('slotmq bench output', { timeout: 300_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let dir: string
  let fanout: CommandRun
  const chromium = findChromium()
  let page: Page | undefined

  /** The page, or why there is none: a failure under CI, a skip with the reason elsewhere. */
  function browserOr (t: TestContext): Page | undefined {
    if (page !== undefined) return page
    const why = 'no Chromium: install Debian\'s chromium-headless-shell (or chromium) package, as .ci/run does, or name the binary in CHROMIUM'
    if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') assert.fail(`${why} (CI=${process.env.CI}: missing, it fails the test)`)
    t.skip(why)
    return undefined
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slotmq-bench-report-'))
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() })
    // stdout and stderr are pipes here, as in a CI log or `slotmq bench ... | tee`.
    fanout = await runSlotmq(['bench', 'fanout', '--pub', topo.urls[0] as string, '--sub', topo.urls.join(','), '--qos', '1', '--rate', '200',
      '--duration', '4', '--clients', '4', '--progress', '1', '--report', join(dir, 'fanout.html')], { timeoutMs: 120_000 })
    if (chromium !== undefined) page = await openBrowser(chromium)
  })
  after(async () => {
    await page?.close()
    await topo?.close()
    await redis?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  test('with stdout and stderr not a terminal, progress lines go to stderr every --progress seconds and the table to stdout', () => {
    assert.equal(fanout.code, 0, fanout.stderr)
    const lines = fanout.stderr.split('\n').filter(l => l !== '')
    const progress = /^slotmq bench fanout: \d+\.\d s, sent [\d,]+ msg \([\d,]+ msg\/s\), received [\d,]+ msg \([\d,]+ msg\/s\)$/
    assert.ok(lines.some(l => progress.test(l)), `progress lines on stderr: ${JSON.stringify(lines)}`)
    assert.deepEqual(lines.filter(l => !progress.test(l)), [], 'stderr has progress lines only')
    assert.doesNotMatch(fanout.stderr, /\r/, 'no line rewritten in place')
    assert.match(fanout.stdout, /^slotmq bench fanout {2}\(publishers 1, subscribers 4, qos 1/)
    assert.match(fanout.stdout, /sent\s+800 msg/)
    assert.match(fanout.stdout, /received\s+3,200 msg\s+\([\d,]+ msg\/s\) of 3,200 expected/)
    assert.match(fanout.stdout, /sub median msg per s\s+[\d,]+/)
    assert.doesNotMatch(fanout.stdout, /slotmq bench fanout:/, 'no progress on stdout')
  })

  test('the fan-out report in Chromium: the summary fits, ticks are round, separate rate charts, per-subscriber rates, an ack latency chart', async (t) => {
    const browser = browserOr(t)
    if (browser === undefined) return
    assert.equal(fanout.code, 0, fanout.stderr)
    const url = pathToFileURL(join(dir, 'fanout.html')).href
    for (const width of [1024, 420]) {
      await browser.load(url, width, 900)
      const layout = await browser.evaluate<Layout>(MEASURE)
      await browser.screenshot(join(dir, `fanout-${width}.png`))
      assertFits(layout, width)
      assertRoundTicks(layout)
      const ids = layout.charts.map(c => c.id)
      for (const id of ['latency-over-time', 'ack-latency', 'publish-rate', 'receive-rate', 'per-subscriber-rate', 'latency-distribution']) {
        assert.ok(layout.charts.some(c => c.id === id && c.svg), `chart ${id} is drawn: ${JSON.stringify(ids)}`)
      }
      assert.ok(!ids.includes('throughput'), `no chart puts the publish and the receive rate on one axis: ${JSON.stringify(ids)}`)
      const names = (chart: string): string[] => layout.series.filter(s => s.chart === chart).map(s => s.name)
      assert.deepEqual(names('publish-rate'), ['sent'])
      assert.deepEqual(names('receive-rate'), ['received'])
      assert.deepEqual(names('per-subscriber-rate'), ['publish rate', 'fewest', 'median', 'most'])
      assert.deepEqual(names('ack-latency'), ['p50', 'p95', 'p99'])
      assert.ok(layout.series.filter(s => s.chart === 'ack-latency').every(s => s.points.length > 0), 'the ack latency chart has points')
      assert.match(layout.texts[ids.indexOf('ack-latency')] ?? '', /PUBACK/)
      assertNoCollapse(layout, ['publish-rate', 'receive-rate', 'per-subscriber-rate', 'latency-over-time', 'ack-latency'])
    }
    t.diagnostic(`screenshots: ${join(dir, 'fanout-1024.png')}, ${join(dir, 'fanout-420.png')} (removed after the test)`)
  })

  test('a QoS 0 p2p report in Chromium: one throughput chart (same scale), and the ack section says QoS 0 has none', async (t) => {
    const browser = browserOr(t)
    if (browser === undefined) return
    const r = await runScenario('p2p', { pub: [topo.urls[0] as string], sub: [topo.urls[1] as string], qos: 0, size: 64, rate: 200, durationS: 2, clients: 2, clean: true, timeoutMs: 10_000 })
    assert.equal(r.received, r.expected, 'every message arrived')
    const file = join(dir, 'p2p.html')
    writeFileSync(file, htmlReport(r))
    await browser.load(pathToFileURL(file).href, 800, 900)
    const layout = await browser.evaluate<Layout>(MEASURE)
    assertFits(layout, 800)
    assertRoundTicks(layout)
    assert.deepEqual(layout.series.filter(s => s.chart === 'throughput').map(s => s.name), ['sent', 'received'])
    assertNoCollapse(layout, ['throughput'])
    const ack = layout.charts.find(c => c.id === 'ack-latency')
    assert.equal(ack?.svg, false, `QoS 0: no ack chart: ${JSON.stringify(layout.charts)}`)
    assert.match(readFileSync(file, 'utf8'), /QoS 0: publishes are not acknowledged/)
  })
})
