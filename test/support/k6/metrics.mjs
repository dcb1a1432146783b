// Stand-in for `k6/metrics`: records every sample in this VU's registry; the runner
// aggregates the VUs' registries and evaluates thresholds.
export const registry = new Map()

class Metric {
  constructor (name, type, isTime = false) {
    this.name = name
    this.type = type
    this.isTime = isTime
    this.samples = []
    registry.set(name, this)
  }

  add (value) {
    this.samples.push(Number(value))
  }
}

export class Trend extends Metric { constructor (name, isTime) { super(name, 'trend', isTime) } }
export class Counter extends Metric { constructor (name) { super(name, 'counter') } }
export class Gauge extends Metric { constructor (name) { super(name, 'gauge') } }
export class Rate extends Metric { constructor (name) { super(name, 'rate') } }
