/**
 * The table `slotmq bench compare` prints: one row per broker, one column per scenario,
 * and for Redis-backed brokers two more columns per scenario, Redis commands and script
 * calls per delivered message. With several rounds each cell shows the median round.
 * Pure functions of the results: nothing here starts or measures anything.
 */
import { ratio } from './output.js'
import { perMessage } from './redis-cost.js'
import type { BenchResult } from './types.js'

/** What a scenario's cell shows and its rounds are ranked by. */
export type MeasureKind = 'throughput' | 'latency' | 'propagation'

export interface MeasureInfo { key: string, label: string, kind: MeasureKind }

export type Cell = BenchResult | { error: string }

export interface Comparison {
  measures: MeasureInfo[]
  rows: Array<{ target: string, results: Record<string, Cell> }>
  reference: string
  skipped: string[]
  /** Rounds run; each cell is the median one. */
  rounds: number
}

/** What a round is ranked by: throughput, or the tail latency that the cell shows. */
function rank (kind: MeasureKind, r: BenchResult): number {
  if (kind === 'latency') return -(r.latency?.p99 ?? Infinity)
  if (kind === 'propagation') return -(r.timings.suback_to_first_delivery?.p95 ?? Infinity)
  return r.receivedPerS
}

/** The median round (the lower one of an even count), with the losses of every round. */
export function median (kind: MeasureKind, runs: Cell[]): Cell {
  const ok = runs.filter((r): r is BenchResult => !('error' in r))
  if (ok.length < runs.length || ok.length === 0) return runs.find(r => 'error' in r) ?? { error: 'not run' }
  const sorted = [...ok].sort((a, b) => rank(kind, a) - rank(kind, b))
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as BenchResult
  const sum = (f: (r: BenchResult) => number): number => ok.reduce((n, r) => n + f(r), 0)
  return { ...mid, lost: sum(r => r.lost), duplicated: sum(r => r.duplicated), outOfOrder: sum(r => r.outOfOrder) }
}

function cell (r: Cell | undefined, kind: MeasureKind, ref: Cell | undefined): string {
  if (r === undefined) return '-'
  if ('error' in r) return 'error'
  const loss = r.lost + r.duplicated + r.outOfOrder > 0 ? ` (lost ${r.lost}, dup ${r.duplicated}, ooo ${r.outOfOrder})` : ''
  if (kind === 'propagation') {
    const p = r.timings.suback_to_first_delivery
    return p === undefined ? `timeouts ${String(r.facts.timeouts)}` : `p50 ${p.p50} / p95 ${p.p95} ms${Number(r.facts.timeouts) > 0 ? ` (timeouts ${String(r.facts.timeouts)})` : ''}`
  }
  if (kind === 'latency') return `p50 ${r.latency?.p50 ?? '-'} / p99 ${r.latency?.p99 ?? '-'} ms${loss}`
  const x = ref !== undefined && !('error' in ref) && ref.receivedPerS > 0 ? ` ${(r.receivedPerS / ref.receivedPerS).toFixed(2)}x` : ''
  const cpu = typeof r.facts.brokerCpuUsPerMessage === 'number' ? `, ${r.facts.brokerCpuUsPerMessage} µs CPU/msg` : ''
  return `${r.receivedPerS.toLocaleString('en-US')} msg/s${x}${cpu}${loss}`
}

/** Redis commands and script calls per delivered message of one cell; blank without Redis figures. */
function redisCells (r: Cell | undefined): [string, string] {
  if (r === undefined || 'error' in r || r.redis === undefined) return ['', '']
  const per = perMessage(r.redis)
  return per === undefined ? ['-', '-'] : [ratio(per.commands), ratio(per.scriptCalls)]
}

const hasRedis = (c: Comparison, key: string): boolean =>
  c.rows.some(row => { const r = row.results[key]; return r !== undefined && !('error' in r) && r.redis !== undefined })

export function renderComparison (c: Comparison): string {
  const refRow = c.rows.find(r => r.target === c.reference)
  const header = ['broker']
  for (const m of c.measures) header.push(m.label, ...(hasRedis(c, m.key) ? ['Redis cmds/msg', 'scripts/msg'] : []))
  const body = c.rows.map(row => {
    const cells = [row.target]
    for (const m of c.measures) {
      cells.push(cell(row.results[m.key], m.kind, refRow?.results[m.key]))
      if (hasRedis(c, m.key)) cells.push(...redisCells(row.results[m.key]))
    }
    return cells
  })
  const widths = header.map((h, i) => Math.max(h.length, ...body.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => '| ' + cells.map((x, i) => x.padEnd(widths[i] ?? 0)).join(' | ') + ' |'
  const out = [line(header), '|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)]
  out.push('', `Ratios (x) are received msg/s relative to ${c.reference}.`)
  if (c.rounds > 1) out.push(`Each cell is the median of ${c.rounds} rounds (throughput, p99 or p95); lost, dup and ooo are summed over all rounds.`)
  if (c.rows.some(row => Object.values(row.results).some(r => !('error' in r) && typeof r.facts.brokerCpuUsPerMessage === 'number'))) {
    out.push('CPU/msg: CPU time of the broker\'s processes (and of Redis, for Redis-backed brokers) per received message.')
  }
  if (c.measures.some(m => hasRedis(c, m.key))) {
    out.push('Redis cmds/msg: commands executed by the Redis primaries per received message, commands called by Lua scripts included (each counted as well as its script call);',
      'scripts/msg: EVAL/EVALSHA/FCALL calls per received message. Blank for brokers without Redis.')
  }
  for (const s of c.skipped) out.push(`Skipped: ${s}`)
  return out.join('\n') + '\n'
}
