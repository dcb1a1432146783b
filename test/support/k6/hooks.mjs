// Module resolution hook: `k6`, `k6/metrics` and `k6/x/mqtt` resolve to the stand-ins.
const STAND_INS = { k6: 'k6.mjs', 'k6/metrics': 'metrics.mjs', 'k6/x/mqtt': 'mqtt.mjs' }

export async function resolve (specifier, context, next) {
  const file = STAND_INS[specifier]
  if (file !== undefined) return { url: new URL(file, import.meta.url).href, shortCircuit: true }
  return await next(specifier, context)
}
