/**
 * How a chaos run is shown: one table row per scenario run and a summary row per
 * scenario (counts summed, times as min-max, other figures summed), then what failed.
 */
import { runFailed, type ChaosReport } from './runner.js'
import type { RunResult } from './types.js'

const COLUMNS = ['scenario', 'run', 'published', 'acked', 'delivered', 'lost', 'dup', 'ooo', 'result', 'figures'] as const

function verdict (r: RunResult): string {
  if (r.skipped !== undefined) return 'skipped'
  const failed = r.checks.filter(c => !c.ok).length
  if (r.lost > 0 && failed > 0) return `LOST, ${failed} check${failed > 1 ? 's' : ''} failed`
  if (r.lost > 0) return 'LOST'
  return failed > 0 ? `${failed} check${failed > 1 ? 's' : ''} failed` : 'ok'
}

function figures (f: RunResult['figures']): string {
  return Object.entries(f).map(([k, v]) => `${k}=${v}`).join(' ')
}

function row (r: RunResult): string[] {
  return [r.scenario, String(r.run), String(r.published), String(r.acknowledged), String(r.delivered), String(r.lost), String(r.duplicated), String(r.outOfOrder), verdict(r), figures(r.figures)]
}

/** Counts summed; figures ending in Ms or Pct as min-max over the runs, other numbers summed. */
function summaryRow (scenario: string, runs: RunResult[]): string[] {
  const done = runs.filter(r => r.skipped === undefined)
  const sum = (f: (r: RunResult) => number): string => String(done.reduce((n, r) => n + f(r), 0))
  const keys = [...new Set(done.flatMap(r => Object.keys(r.figures)))]
  const aggregated = keys.flatMap(k => {
    const values = done.map(r => r.figures[k]).filter((v): v is number => typeof v === 'number')
    if (values.length === 0) return []
    if (k.endsWith('Ms') || k.endsWith('Pct')) {
      const min = Math.min(...values)
      const max = Math.max(...values)
      return [`${k}=${min === max ? min : `${min}-${max}`}`]
    }
    return k === 'slot' ? [] : [`${k}=${values.reduce((a, b) => a + b, 0)}`]
  })
  const failed = done.filter(runFailed).length
  const result = done.length === 0 ? 'skipped' : failed === 0 ? `ok (${done.length} runs)` : `FAILED ${failed} of ${done.length}`
  return [scenario, 'all', sum(r => r.published), sum(r => r.acknowledged), sum(r => r.delivered), sum(r => r.lost), sum(r => r.duplicated), sum(r => r.outOfOrder), result, aggregated.join(' ')]
}

export function renderReport (report: ChaosReport): string {
  const settings = Object.entries(report.settings).map(([k, v]) => `${k} ${v}`).join(', ')
  const scenarios = [...new Set(report.runs.map(r => r.scenario))]
  const body: string[][] = []
  for (const name of scenarios) {
    const runs = report.runs.filter(r => r.scenario === name)
    body.push(...runs.map(row), summaryRow(name, runs))
  }
  const header = [...COLUMNS] as string[]
  const widths = header.map((h, i) => Math.max(h.length, ...body.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  const out = [`slotmq chaos  (${settings})`, '', line(header), line(widths.map(w => '-'.repeat(w))), ...body.map(line), '']
  const failures = report.runs.filter(runFailed)
  for (const r of failures) {
    if (r.lost > 0) out.push(`${r.scenario} #${r.run}: ${r.lost} acknowledged message(s) never delivered${typeof r.figures.lostSeqs === 'string' ? ` (seq ${r.figures.lostSeqs})` : ''}`)
    for (const c of r.checks.filter(c => !c.ok)) out.push(`${r.scenario} #${r.run}: ${c.name}: FAILED (${c.detail})`)
  }
  for (const r of report.runs.filter(r => r.skipped !== undefined && r.run === 1)) out.push(`${r.scenario}: skipped (${r.skipped ?? ''})`)
  const ran = report.runs.filter(r => r.skipped === undefined).length
  out.push(`${ran} runs in ${report.durationS} s: ${failures.length === 0 ? 'nothing acknowledged was lost and every check held' : `${failures.length} failed`}`)
  return out.join('\n') + '\n'
}
