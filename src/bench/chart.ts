/**
 * Line charts as inline SVG for the HTML report: no scripts, no external files. Linear
 * axes start at 0 and are divided in round steps (1, 2 or 5 x 10^n), so every tick label
 * is a round number. The SVG scales to the width of the page.
 *
 * For tests and for people reading the page source, each series carries its points in
 * data units (`data-points="x:y ..."`) and each axis its kind (`data-scale`).
 */

export const esc = (s: string): string => s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c] as string))

export interface Series {
  name: string
  color: string
  points: Array<[number, number]>
  /** A reference line (drawn dashed). */
  dashed?: boolean
}

/** A linear x axis from 0, or fixed labelled positions (the percentile axis). */
export type XAxis = { label: string, kind: 'linear' } | { label: string, kind: 'percentile', ticks: Array<[number, string]> }

export interface ChartSpec {
  /** Element id of the chart (stable: tests and links find charts by it). */
  id: string
  title: string
  x: XAxis
  yLabel: string
  series: Series[]
  /** A sentence under the title: what the chart shows. */
  note?: string
}

/** A round step (1, 2 or 5 x 10^n) that divides 0..`max` into at most `most` parts. */
export function niceStep (max: number, most = 5): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1
  const raw = max / most
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const m = [1, 2, 5].find(m => m * magnitude >= raw * (1 - 1e-9))
  return (m ?? 10) * magnitude
}

/** Ticks from 0 in round steps up to the first at or above `max`: values and labels. */
export function niceTicks (max: number, most = 5): Array<[number, string]> {
  const step = niceStep(max, most)
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9))
  const count = Math.max(1, Math.ceil(max / step - 1e-9))
  return Array.from({ length: count + 1 }, (_, k) => {
    const v = Number((k * step).toFixed(decimals))
    return [v, v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })]
  })
}

const W = 720
const H = 280
const LEFT = 70
const RIGHT = 16
const TOP = 12
const BOTTOM = 44

const num = (v: number): string => String(Math.round(v * 1000) / 1000)

/** A chart as a `<figure>`: title, legend, SVG; or the title and "No data." without points. */
export function lineChart (c: ChartSpec): string {
  const head = `<figure class="chart" id="${esc(c.id)}"><figcaption><h2>${esc(c.title)}</h2>${c.note === undefined ? '' : `<p class="note">${esc(c.note)}</p>`}</figcaption>`
  const all = c.series.flatMap(s => s.points)
  if (all.length === 0) return `${head}<p>No data.</p></figure>`
  const yTicks = niceTicks(Math.max(...all.map(p => p[1])))
  const yTop = (yTicks[yTicks.length - 1] as [number, string])[0]
  const xTicks = c.x.kind === 'linear' ? niceTicks(Math.max(...all.map(p => p[0]))) : c.x.ticks
  const xTop = Math.max(...xTicks.map(t => t[0]))
  const x = (v: number): number => LEFT + v / xTop * (W - LEFT - RIGHT)
  const y = (v: number): number => H - BOTTOM - v / yTop * (H - BOTTOM - TOP)
  const grid = yTicks.map(([v]) => `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${num(y(v))}" y2="${num(y(v))}" stroke="#e5e5e5"/>`)
  const yLabels = yTicks.map(([v, label]) => `<text x="${LEFT - 6}" y="${num(y(v) + 4)}" text-anchor="end">${esc(label)}</text>`)
  const xLabels = xTicks.map(([v, label]) => `<text x="${num(x(v))}" y="${H - BOTTOM + 16}" text-anchor="middle">${esc(label)}</text>`)
  const series = c.series.map(s => {
    const coords = s.points.map(([px, py]) => `${num(x(px))},${num(y(py))}`)
    const dots = s.points.length <= 60 ? s.points.map(([px, py]) => `<circle cx="${num(x(px))}" cy="${num(y(py))}" r="2.5" fill="${s.color}"/>`).join('') : ''
    return `<g class="series" data-series="${esc(s.name)}" data-points="${s.points.map(([px, py]) => `${num(px)}:${num(py)}`).join(' ')}">` +
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''} points="${coords.join(' ')}"/>${dots}</g>`
  })
  const legend = c.series.map(s => `<span style="color:${s.color}">${s.dashed === true ? '- -' : '■'}</span> ${esc(s.name)}`).join(' &nbsp; ')
  return `${head}<p class="legend">${legend}</p>` +
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(c.title)}" font-size="12" font-family="sans-serif">` +
    `<g class="grid">${grid.join('')}</g>` +
    `<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${H - BOTTOM}" stroke="#999"/><line x1="${LEFT}" x2="${W - RIGHT}" y1="${H - BOTTOM}" y2="${H - BOTTOM}" stroke="#999"/>` +
    `<g class="ticks" data-axis="y" data-scale="linear">${yLabels.join('')}</g>` +
    `<g class="ticks" data-axis="x" data-scale="${c.x.kind}">${xLabels.join('')}</g>` +
    series.join('') +
    `<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 6}" text-anchor="middle">${esc(c.x.label)}</text>` +
    `<text x="14" y="${(TOP + H - BOTTOM) / 2}" transform="rotate(-90 14 ${(TOP + H - BOTTOM) / 2})" text-anchor="middle">${esc(c.yLabel)}</text>` +
    '</svg></figure>'
}
