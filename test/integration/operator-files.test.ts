/**
 * The Grafana dashboard (deploy/grafana/) and the Prometheus alert rules
 * (deploy/prometheus/) name only metrics that two running Redis-backed nodes export:
 * a renamed metric fails here before a dashboard goes blank.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { startNodes, type Topology } from '../helpers/nodes.js'
import { uniquePrefix, useRedisCluster, type TestRedis } from '../helpers/redis.js'

const DEPLOY = new URL('../../deploy/', import.meta.url)
/** Series Prometheus makes itself, not the nodes. */
const PROMETHEUS_OWN = new Set(['up'])

/** Metric names in a PromQL expression: those of slotmq and of the Node.js process collector. */
function metricNames (expr: string): string[] {
  return [...expr.matchAll(/\b(?:slotmq|process|nodejs)_[a-z0-9_]+\b|\bup(?=\{)/g)].map(m => m[0])
}

function dashboardExprs (): Array<{ where: string, expr: string }> {
  const found: Array<{ where: string, expr: string }> = []
  for (const file of readdirSync(new URL('grafana/', DEPLOY)).filter(f => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(new URL(`grafana/${file}`, DEPLOY), 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ expr: string }> }>, templating: { list: Array<{ name: string, definition?: string }> } }
    for (const p of dash.panels) for (const t of p.targets ?? []) found.push({ where: `${file}: panel "${p.title}"`, expr: t.expr })
    for (const v of dash.templating.list) if (v.definition !== undefined) found.push({ where: `${file}: variable ${v.name}`, expr: v.definition })
  }
  return found
}

function ruleExprs (): Array<{ where: string, expr: string }> {
  const found: Array<{ where: string, expr: string }> = []
  for (const file of readdirSync(new URL('prometheus/', DEPLOY)).filter(f => /\.ya?ml$/.test(f))) {
    const doc = parse(readFileSync(new URL(`prometheus/${file}`, DEPLOY), 'utf8')) as { groups: Array<{ name: string, rules: Array<Record<string, unknown>> }> }
    for (const g of doc.groups) {
      for (const r of g.rules) {
        assert.equal(typeof r.alert, 'string', `${file}: every rule is an alert with a name`)
        assert.equal(typeof r.expr, 'string', `${file}: ${String(r.alert)} has an expr`)
        assert.match(String((r.labels as Record<string, unknown> | undefined)?.severity), /^(critical|warning)$/, `${file}: ${String(r.alert)} has a severity`)
        assert.equal(typeof (r.annotations as Record<string, unknown> | undefined)?.summary, 'string', `${file}: ${String(r.alert)} has a summary`)
        found.push({ where: `${file}: ${String(r.alert)}`, expr: String(r.expr) })
      }
    }
  }
  return found
}

describe('dashboard and alert rules against /metrics of two nodes', { timeout: 120_000 }, () => {
  let redis: TestRedis
  let topo: Topology
  let exported: Set<string>
  before(async () => {
    redis = await useRedisCluster()
    topo = await startNodes(2, { redis: redis.seeds.join(','), 'redis-prefix': uniquePrefix() })
    exported = new Set()
    for (const node of topo.nodes) {
      const text = await (await fetch(`http://127.0.0.1:${node.http?.port ?? 0}/metrics`)).text()
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue
        exported.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '')
      }
    }
  })
  after(async () => {
    await topo.close()
    await redis.stop()
  })

  for (const [what, read] of [['the Grafana dashboard', dashboardExprs], ['the alert rules', ruleExprs]] as const) {
    test(`every metric ${what} names exists in /metrics`, () => {
      const exprs = read()
      assert.ok(exprs.length >= 10, `${what}: ${exprs.length} expressions`)
      const missing: string[] = []
      for (const { where, expr } of exprs) {
        const names = metricNames(expr)
        assert.ok(names.length > 0, `${where}: no metric in ${expr}`)
        for (const name of names) if (!exported.has(name) && !PROMETHEUS_OWN.has(name)) missing.push(`${where}: ${name}`)
      }
      assert.deepEqual(missing, [])
    })
  }
})
