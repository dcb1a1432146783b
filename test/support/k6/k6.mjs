// Stand-in for the `k6` module: the parts the slotmq scenarios use.
export function check (value, checks) {
  return Object.values(checks).every(fn => fn(value) === true)
}
