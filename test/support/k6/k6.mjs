// Stand-in for the `k6` module: the parts the slotmq scenarios use. check() records each
// check in the `checks` Rate, as k6 does.
import { Rate } from './metrics.mjs'

const checks = new Rate('checks')

export function check (value, sets) {
  let all = true
  for (const fn of Object.values(sets)) {
    const pass = fn(value) === true
    checks.add(pass ? 1 : 0)
    all &&= pass
  }
  return all
}
