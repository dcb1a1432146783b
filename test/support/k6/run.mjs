// Runs a k6 MQTT scenario without k6: each VU in its own worker thread (k6 gives every VU
// its own runtime), stand-ins for k6's modules, then the thresholds evaluated over all
// VUs' samples. Prints one JSON object: { metrics, thresholds, skipped, problems, ok }.
// `metrics` holds only metrics with at least one sample (as k6's summary), so a metric a
// script never recorded is missing, not 0. `problems` lists what the script asked of the
// MQTT extension that the real one ignores (options it never reads, clean_session false,
// a second handler for an event, ...): see options.mjs and mqtt.mjs.
// With --no-time-thresholds, thresholds on time metrics (Trends created with isTime, e.g.
// latencies) are listed in `skipped` instead of evaluated: short runs on a shared CI
// machine say nothing about latency; loss and correctness thresholds are still evaluated.
// Usage: node --import ./test/support/k6/register.mjs test/support/k6/run.mjs SCRIPT [--no-time-thresholds] [-e KEY=VALUE ...]
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'

if (isMainThread) {
  const [script, ...rest] = process.argv.slice(2)
  const env = {}
  let timeThresholds = true
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '-e') { const [k, ...v] = rest[++i].split('='); env[k] = v.join('=') } else if (rest[i] === '--no-time-thresholds') timeThresholds = false
    else throw new Error(`unknown argument: ${rest[i]}`)
  }
  globalThis.__ENV = env
  globalThis.__VU = 0
  const url = pathToFileURL(resolve(script)).href
  const { options } = await import(url)
  const scenario = Object.values(options.scenarios)[0]
  const limitMs = parseDuration(scenario.maxDuration ?? '60s')
  const results = await Promise.all(Array.from({ length: scenario.vus }, async (_, i) => await new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { url, env, vu: i + 1 }, execArgv: ['--import', new URL('register.mjs', import.meta.url).href] })
    const timer = setTimeout(() => { worker.terminate().catch(() => {}); reject(new Error(`VU ${i + 1} ran past maxDuration`)) }, limitMs)
    worker.once('message', m => { clearTimeout(timer); resolve(m) })
    worker.once('error', err => { clearTimeout(timer); reject(err) })
  })))
  const samples = {}
  const problems = [...new Set(results.flatMap(r => r.problems))]
  for (const r of results) {
    for (const [name, m] of Object.entries(r.metrics)) {
      const s = (samples[name] ??= { type: m.type, isTime: m.isTime, values: [] })
      s.values.push(...m.samples)
    }
  }
  const metrics = Object.fromEntries(Object.entries(samples).filter(([, m]) => m.values.length > 0).map(([name, m]) => [name, { type: m.type, values: summarize(m.type, m.values) }]))
  const thresholds = {}
  const skipped = []
  let ok = true
  for (const [name, exprs] of Object.entries(options.thresholds ?? {})) {
    for (const expr of exprs) {
      if (!timeThresholds && samples[name]?.isTime === true) {
        skipped.push(`${name}: ${expr}`)
        continue
      }
      const pass = evaluate(expr, metrics[name]?.values ?? summarize(samples[name]?.type ?? 'counter', []))
      thresholds[`${name}: ${expr}`] = pass
      ok &&= pass
    }
  }
  process.stdout.write(JSON.stringify({ metrics, thresholds, skipped, problems, ok }) + '\n')
  process.exit(0)
} else {
  globalThis.__ENV = workerData.env
  globalThis.__VU = workerData.vu
  globalThis.__ITER = 0
  const pending = trackTimers()
  const mod = await import(`${workerData.url}?vu=${workerData.vu}`)
  const { registry } = await import('k6/metrics')
  const { liveClients } = await import('k6/x/mqtt')
  const { problems } = await import(new URL('options.mjs', import.meta.url).href)
  await mod.default()
  // A VU ends when its event loop has nothing left: no Client left un-ended (each one keeps
  // its VU alive from construction until end(), as the extension's event loop does), no timer pending.
  await new Promise(resolve => {
    let idleChecks = 0
    const timer = pending.setInterval(() => {
      idleChecks = liveClients.size === 0 && pending.count() === 0 ? idleChecks + 1 : 0
      if (idleChecks >= 5) { clearInterval(timer); resolve() }
    }, 50)
  })
  const metrics = Object.fromEntries([...registry].map(([name, m]) => [name, { type: m.type, isTime: m.isTime, samples: m.samples }]))
  parentPort.postMessage({ metrics, problems })
}

/** Counts the script's pending timers (k6 keeps a VU alive while any is pending). */
function trackTimers () {
  const original = { setTimeout, setInterval, clearTimeout, clearInterval }
  const live = new Set()
  globalThis.setTimeout = (fn, ms, ...args) => {
    const t = original.setTimeout(() => { live.delete(t); fn(...args) }, ms)
    live.add(t)
    return t
  }
  globalThis.setInterval = (fn, ms, ...args) => {
    const t = original.setInterval(fn, ms, ...args)
    live.add(t)
    return t
  }
  globalThis.clearTimeout = (t) => { live.delete(t); original.clearTimeout(t) }
  globalThis.clearInterval = (t) => { live.delete(t); original.clearInterval(t) }
  return { count: () => live.size, setInterval: original.setInterval }
}

function parseDuration (text) {
  const m = /^(\d+)(ms|s|m)$/.exec(text)
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60000)
}

function summarize (type, values) {
  if (type === 'counter') return { count: values.reduce((a, b) => a + b, 0) }
  if (type === 'rate') return { rate: values.length === 0 ? 0 : values.filter(v => v !== 0).length / values.length }
  if (values.length === 0) return { count: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const p = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q / 100 * sorted.length) - 1)]
  return { count: values.length, avg: values.reduce((a, b) => a + b, 0) / values.length, min: sorted[0], max: sorted[sorted.length - 1], 'p(50)': p(50), 'p(90)': p(90), 'p(95)': p(95), 'p(99)': p(99) }
}

function evaluate (expr, values) {
  const m = /^(count|rate|avg|min|max|p\(\d+(?:\.\d+)?\))\s*(==|<=|>=|<|>)\s*(\d+(?:\.\d+)?)$/.exec(expr.trim())
  if (m === null) throw new Error(`threshold not understood by the stand-in: ${expr}`)
  const v = values[m[1]] ?? 0
  const x = Number(m[3])
  return { '==': v === x, '<=': v <= x, '>=': v >= x, '<': v < x, '>': v > x }[m[2]]
}
